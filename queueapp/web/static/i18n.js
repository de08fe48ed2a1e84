// Translations for scripts: the page embeds its gettext catalog as JSON
// (the same .po catalog the server's templates use).

const data = JSON.parse(document.getElementById("catalog").textContent);

// Which plural form a count takes; the same table as PLURAL_RULES in queueapp/i18n.py.
const PLURAL_RULES = {
  en: (n) => (n === 1 ? 0 : 1),
  bg: (n) => (n === 1 ? 0 : 1),
  cs: (n) => (n === 1 ? 0 : n >= 2 && n <= 4 ? 1 : 2),
  vi: () => 0,
};

export const lang = data.lang;

function fill(text, vars) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// Translate a message; {name} placeholders are filled from vars.
export function t(message, vars = {}) {
  return fill(data.messages[message] || message, vars);
}

// Translate a message whose form depends on the count n (also available as {n}).
export function nt(singular, plural, n, vars = {}) {
  const forms = data.plurals[singular];
  const index = (PLURAL_RULES[data.lang] || PLURAL_RULES.en)(n);
  const chosen = forms && forms[index] ? forms[index] : n === 1 ? singular : plural;
  return fill(chosen, { n, ...vars });
}

export function pluralIndex(language, n) {
  return (PLURAL_RULES[language] || PLURAL_RULES.en)(n);
}
