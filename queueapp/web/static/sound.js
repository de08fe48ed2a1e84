// Short synthesised tones (WebAudio): chimes and beeps with no audio file to fetch.

// Play notes, each [frequency in Hz, offset in s from start], with a soft
// attack and an exponential fade; `fade` is when a note has died away and
// `stop` when its oscillator stops (just after the fade).
export function playTones(context, start, notes, { attack, fade, stop }) {
  for (const [frequency, offset] of notes) {
    const tone = context.createOscillator();
    const volume = context.createGain();
    tone.type = "sine";
    tone.frequency.value = frequency;
    volume.gain.setValueAtTime(0.0001, start + offset);
    volume.gain.exponentialRampToValueAtTime(0.4, start + offset + attack);
    volume.gain.exponentialRampToValueAtTime(0.0001, start + offset + fade);
    tone.connect(volume).connect(context.destination);
    tone.start(start + offset);
    tone.stop(start + offset + stop);
  }
}
