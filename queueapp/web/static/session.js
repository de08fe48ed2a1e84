// Calls from signed-in staff and manager pages to the JSON API.
//
// The session cookie goes along by itself (it is HttpOnly: scripts never see it).
// Every call that changes something must also carry the page's CSRF token, which
// the server puts in <meta name="csrf-token">; apiFetch adds it. When the session
// has ended (signed out elsewhere, 12 hours passed, account disabled) the API
// answers 401 and the browser goes to the sign-in page, which brings it back here.

const meta = document.querySelector('meta[name="csrf-token"]');

export const csrfToken = meta ? meta.content : "";

export function signInAgain() {
  const here = location.pathname + location.search;
  location.assign("/login?next=" + encodeURIComponent(here));
}

// fetch() for the API: `body`, if given, is sent as JSON. Resolves to the Response.
export async function apiFetch(path, { method = "GET", body, headers = {} } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
  };
  if (method !== "GET" && method !== "HEAD") {
    init.headers["X-CSRF-Token"] = csrfToken;
  }
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 401) {
    signInAgain();
  }
  return response;
}
