// Announces calls on the wall display: a chime, then the call spoken in each of
// the display's languages, one utterance at a time.
//
// Calls go through a queue and are announced strictly one after the other: a
// second call that arrives while the first is being spoken waits for it to end,
// so that two calls never cut each other off (nothing here ever calls
// speechSynthesis.cancel()). A recall is announced like a call.

import { playTones } from "/static/app/sound.js";

const CHIME_MS = 1300; // the two tones and a short silence before the voice
const BETWEEN_CALLS_MS = 600;
const MAX_PENDING = 6; // after a long outage, announce the latest few, not an hour of backlog
const STALE_SECONDS = 300; // a call older than this is shown but not announced

function pause(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// "A012" is read "A 12": voices read a number better than a string of digits.
export function spokenNumber(number) {
  const match = /^([A-Z])0*(\d+)$/.exec(number);
  return match ? `${match[1]} ${match[2]}` : number;
}

export class Announcer {
  // speech: [{lang, tag, text}] with {number} and {counter} placeholders in text.
  constructor({ speech = [], sound = true, onBlocked = () => {} } = {}) {
    this.speech = speech;
    this.sound = sound;
    this.onBlocked = onBlocked;
    this.queue = [];
    this.busy = false;
    this.audio = null;
    this.spoken = 0;
  }

  // Queue a call {number, counter, at}; it is announced after those already queued.
  announce(call) {
    if (!this.sound) return;
    if (typeof call.at === "number" && Date.now() / 1000 - call.at > STALE_SECONDS) return;
    this.queue.push(call);
    while (this.queue.length > MAX_PENDING) this.queue.shift();
    this.pump();
  }

  // Browsers keep sound off until someone touches the page; kiosk-mode
  // browsers can be started with --autoplay-policy=no-user-gesture-required.
  unlock() {
    const context = this.context();
    if (context && context.state !== "running") context.resume().catch(() => {});
    if (window.speechSynthesis) {
      const silent = new SpeechSynthesisUtterance(" ");
      silent.volume = 0;
      window.speechSynthesis.speak(silent);
    }
  }

  soundAllowed() {
    const context = this.context();
    return !context || context.state === "running";
  }

  async pump() {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length > 0) {
        const call = this.queue.shift();
        await this.chime();
        for (const phrase of this.speech) {
          await this.say(phrase, call);
        }
        this.spoken += 1;
        await pause(BETWEEN_CALLS_MS);
      }
    } finally {
      this.busy = false;
    }
  }

  context() {
    if (this.audio === null) {
      const AudioContext = window.AudioContext || window.webkitAudioContext;
      this.audio = AudioContext ? new AudioContext() : false;
    }
    return this.audio || null;
  }

  // Two soft tones, high then low, synthesised: no audio file to fetch.
  async chime() {
    const context = this.context();
    if (!context) return;
    if (context.state !== "running") {
      await Promise.race([context.resume().catch(() => {}), pause(250)]);
    }
    if (context.state !== "running") {
      this.onBlocked();
      return;
    }
    const notes = [
      [659.25, 0],
      [523.25, 0.45],
    ];
    playTones(context, context.currentTime + 0.05, notes, { attack: 0.03, fade: 0.8, stop: 0.85 });
    await pause(CHIME_MS);
  }

  // Speak one phrase and resolve when it has ended (or surely would have).
  say(phrase, call) {
    const synthesis = window.speechSynthesis;
    if (!synthesis || typeof SpeechSynthesisUtterance === "undefined") return Promise.resolve();
    const text = phrase.text
      .replace("{number}", spokenNumber(call.number))
      .replace("{counter}", call.counter);
    return new Promise((resolve) => {
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = phrase.tag;
      const voice = pickVoice(synthesis, phrase.lang);
      if (voice) utterance.voice = voice;
      utterance.rate = 0.9;
      let done = false;
      // Some engines never fire "end" (no voice installed, audio device gone):
      // a generous timer keeps the queue moving without cutting a phrase short.
      const fallback = setTimeout(finish, 6000 + text.length * 150);
      function finish() {
        if (done) return;
        done = true;
        clearTimeout(fallback);
        resolve();
      }
      utterance.onend = finish;
      utterance.onerror = finish;
      synthesis.speak(utterance);
    });
  }
}

function pickVoice(synthesis, lang) {
  const voices = synthesis.getVoices ? synthesis.getVoices() : [];
  return (
    voices.find((voice) => voice.lang.toLowerCase().startsWith(lang) && voice.localService) ||
    voices.find((voice) => voice.lang.toLowerCase().startsWith(lang)) ||
    null
  );
}
