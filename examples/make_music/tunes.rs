//! The bundled songs' score and synthesiser: deterministic 16-bit PCM for each file in
//! `music/`, shared by the generator (which encodes it) and the tests (which compare the
//! lossless files with it).

use std::f64::consts::TAU;

/// A rest in a melody.
const R: i8 = -100;
/// Holds the previous melody note one more eighth.
const H: i8 = 100;

/// One bundled song: what it is called, how it is stored and what it plays.
#[derive(Debug, Clone, Copy)]
pub struct Tune {
    /// File name in `music/` (the extension says the format).
    pub file: &'static str,
    pub title: &'static str,
    /// Frames per second of the master the file is encoded from.
    pub rate: u32,
    pub channels: u16,
    /// Quarter notes per minute.
    pub bpm: f64,
    /// MIDI note of the key's root.
    pub key: i32,
    /// Chords of one 4-bar phrase, as major-scale degrees of their roots.
    pub chords: [i8; 4],
    /// One 4-bar phrase, an entry per eighth note: a major-scale degree, [`R`] or [`H`].
    pub melody: [i8; 32],
    /// Times the phrase is played after the 2-bar intro; one bar of ending follows.
    pub repeats: u32,
}

/// Silence before the first note, in seconds: a box that starts the first song a few
/// milliseconds late still records its first note, which the demo compares across boxes.
const LEAD_IN: f64 = 0.3;

/// The artist tag of every bundled song.
pub const ARTIST: &str = "The Chorus Boxes";
/// The album tag of every bundled song.
pub const ALBUM: &str = "Loopback Sessions";

/// The songs in `music/`, in folder order (which is the order a host plays them in).
pub const TUNES: [Tune; 5] = [
    Tune {
        file: "01 Loopback Lullaby.flac",
        title: "Loopback Lullaby",
        rate: 22_050,
        channels: 1,
        bpm: 84.0,
        key: 60,
        chords: [0, 5, 3, 4],
        melody: [
            4, H, 2, 4, 7, H, 6, 4, 5, H, 4, 2, 0, H, R, 2, 3, H, 2, 0, 1, H, 2, 3, 4, H, H, 1, 2,
            H, R, R,
        ],
        repeats: 3,
    },
    Tune {
        file: "02 Multicast March.mp3",
        title: "Multicast March",
        rate: 44_100,
        channels: 2,
        bpm: 112.0,
        key: 62,
        chords: [0, 3, 4, 0],
        melody: [
            0, 0, 4, H, 4, 5, 4, 2, 3, 3, 5, H, 7, 5, 3, 1, 4, 4, 6, 4, 8, 7, 6, 4, 2, 4, 1, H, 0,
            H, R, R,
        ],
        repeats: 3,
    },
    Tune {
        file: "03 Phi Accrual Polka.ogg",
        title: "Phi Accrual Polka",
        rate: 44_100,
        channels: 2,
        bpm: 132.0,
        key: 65,
        chords: [0, 4, 4, 0],
        melody: [
            4, 2, 4, 7, 6, 4, 2, 0, 1, 3, 6, 8, 7, 6, 4, 1, 4, 3, 1, 6, 4, 3, 1, -1, 0, 2, 4, 7, 0,
            H, R, R,
        ],
        repeats: 4,
    },
    Tune {
        file: "04 Jitter Buffer Ballad.m4a",
        title: "Jitter Buffer Ballad",
        rate: 44_100,
        channels: 2,
        bpm: 96.0,
        key: 57,
        chords: [0, 5, 1, 4],
        melody: [
            2, H, 4, 5, 7, H, 5, 4, 5, H, 4, 2, 0, H, 2, H, 1, H, 3, 4, 5, H, 8, 7, 6, H, 4, H, 5,
            H, H, R,
        ],
        repeats: 3,
    },
    Tune {
        file: "05 Clock Skew Shuffle.wav",
        title: "Clock Skew Shuffle",
        rate: 22_050,
        channels: 1,
        bpm: 88.0,
        key: 55,
        chords: [0, 3, 0, 4],
        melody: [
            0, 2, 4, 2, 5, H, 4, H, 3, 5, 7, 5, 8, H, 7, H, 4, 4, 5, 4, 2, H, 0, H, 1, 2, 3, 4, 0,
            H, R, R,
        ],
        repeats: 2,
    },
];

/// Semitones above the root of the major scale's degree `d` (any octave, negative too).
fn degree(d: i32) -> i32 {
    const STEPS: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
    d.div_euclid(7) * 12 + STEPS[d.rem_euclid(7) as usize]
}

fn hz(midi: i32) -> f64 {
    440.0 * 2f64.powf(f64::from(midi - 69) / 12.0)
}

/// A note to mix in: where it starts and ends (seconds), its pitch, voice and stereo pan
/// (0 left, 1 right).
struct Note {
    start: f64,
    len: f64,
    midi: i32,
    voice: Voice,
    pan: f64,
}

#[derive(Clone, Copy)]
enum Voice {
    Lead,
    Bass,
    Pad,
    Hat,
}

impl Tune {
    /// Seconds of one eighth note.
    fn eighth(&self) -> f64 {
        30.0 / self.bpm
    }

    /// Length of the song in seconds: lead-in, intro, phrases, ending bar.
    pub fn seconds(&self) -> f64 {
        LEAD_IN + f64::from(2 + 4 * self.repeats + 1) * 8.0 * self.eighth()
    }

    /// Interleaved 16-bit samples of the whole song at [`Tune::rate`] and
    /// [`Tune::channels`].
    pub fn render(&self) -> Vec<i16> {
        let frames = (self.seconds() * f64::from(self.rate)).round() as usize;
        let ch = usize::from(self.channels);
        let mut mix = vec![0.0f64; frames * 2];
        for note in self.score() {
            self.mix_note(&note, &mut mix);
        }
        let mut out = Vec::with_capacity(frames * ch);
        for frame in mix.chunks_exact(2) {
            if ch == 1 {
                out.push(quantize((frame[0] + frame[1]) * 0.5));
            } else {
                out.push(quantize(frame[0]));
                out.push(quantize(frame[1]));
            }
        }
        out
    }

    /// Every note of the song, in the order they are mixed.
    fn score(&self) -> Vec<Note> {
        let e = self.eighth();
        let bar = 8.0 * e;
        let mut notes = Vec::new();
        let bars = 2 + 4 * self.repeats;
        for b in 0..=bars {
            let chord = i32::from(self.chords[(b % 4) as usize]);
            // The last bar rests on the tonic.
            let chord = if b == bars { 0 } else { chord };
            let t0 = f64::from(b) * bar;
            self.chord_bar(&mut notes, t0, chord, b == bars);
        }
        for r in 0..self.repeats {
            let t0 = f64::from(2 + 4 * r) * bar;
            // Every other phrase an octave up, so the repeats do not drone.
            let lift = if r % 2 == 1 { 7 } else { 0 };
            self.phrase(&mut notes, t0, lift);
        }
        notes.push(Note {
            start: f64::from(bars) * bar,
            len: bar,
            midi: self.key + 12,
            voice: Voice::Lead,
            pan: 0.6,
        });
        notes
    }

    /// The accompaniment of one bar: bass, a sustained triad and off-beat hi-hats.
    fn chord_bar(&self, notes: &mut Vec<Note>, t0: f64, chord: i32, last: bool) {
        let e = self.eighth();
        let root = |d: i32| self.key - 12 + degree(chord + d);
        let bass: &[(usize, i32, usize)] = if last {
            &[(0, 0, 8)]
        } else {
            &[(0, 0, 3), (3, 4, 1), (4, 0, 2), (6, 7, 2)]
        };
        for &(at, d, len) in bass {
            notes.push(Note {
                start: t0 + at as f64 * e,
                len: len as f64 * e,
                midi: root(d) - 12,
                voice: Voice::Bass,
                pan: 0.5,
            });
        }
        for (i, d) in [0, 2, 4].into_iter().enumerate() {
            notes.push(Note {
                start: t0,
                len: 8.0 * e,
                midi: root(d) + 12,
                voice: Voice::Pad,
                pan: 0.25 + 0.25 * i as f64,
            });
        }
        if !last {
            for at in [1, 3, 5, 7] {
                notes.push(Note {
                    start: t0 + f64::from(at) * e,
                    len: e,
                    midi: 0,
                    voice: Voice::Hat,
                    pan: 0.3,
                });
            }
        }
    }

    /// The melody once from `t0`, `lift` scale degrees up.
    fn phrase(&self, notes: &mut Vec<Note>, t0: f64, lift: i32) {
        let e = self.eighth();
        let mut i = 0;
        while i < self.melody.len() {
            let d = self.melody[i];
            let held = self.melody[i + 1..].iter().take_while(|&&x| x == H).count();
            if d != R && d != H {
                notes.push(Note {
                    start: t0 + i as f64 * e,
                    len: (1 + held) as f64 * e,
                    midi: self.key + 12 + degree(i32::from(d) + lift),
                    voice: Voice::Lead,
                    pan: 0.65,
                });
            }
            i += 1 + held;
        }
    }

    /// Adds `note` to the stereo mix `mix` (interleaved left, right).
    fn mix_note(&self, note: &Note, mix: &mut [f64]) {
        let rate = f64::from(self.rate);
        let first = ((LEAD_IN + note.start) * rate).round() as usize;
        // A short release after the note's end, so nothing clicks.
        let tail = match note.voice {
            Voice::Pad => 0.25,
            _ => 0.04,
        };
        let count = ((note.len + tail) * rate).round() as usize;
        let f = hz(note.midi);
        let (gl, gr) = ((1.0 - note.pan).sqrt(), note.pan.sqrt());
        // Hi-hat noise from a fixed LCG seeded by the start frame: the same on every run.
        let mut seed = first as u64 ^ 0x9E37_79B9_7F4A_7C15;
        let mut prev = 0.0;
        for n in 0..count {
            let Some(frame) = mix.get_mut((first + n) * 2..(first + n) * 2 + 2) else {
                break;
            };
            let t = n as f64 / rate;
            let release = if t > note.len {
                1.0 - (t - note.len) / tail
            } else {
                1.0
            };
            let v = release
                * match note.voice {
                    Voice::Lead => lead(f, t),
                    Voice::Bass => bass(f, t),
                    Voice::Pad => pad(f, t),
                    Voice::Hat => {
                        seed = seed
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        let white = (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                        // First difference: a brighter, hiss-like noise.
                        let hiss = white - prev;
                        prev = white;
                        0.035 * hiss * (-t / 0.03).exp()
                    }
                };
            frame[0] += v * gl;
            frame[1] += v * gr;
        }
    }
}

/// A plucked lead: four harmonics with a 5 ms attack and an exponential decay.
fn lead(f: f64, t: f64) -> f64 {
    let env = (t / 0.005).min(1.0) * (-t / 0.45).exp();
    let w = TAU * f * t;
    0.22 * env
        * (w.sin() + 0.35 * (2.0 * w).sin() + 0.15 * (3.0 * w).sin() + 0.06 * (4.0 * w).sin())
}

/// A round bass: fundamental and a little second harmonic.
fn bass(f: f64, t: f64) -> f64 {
    let env = (t / 0.01).min(1.0) * (-t / 0.7).exp();
    let w = TAU * f * t;
    0.3 * env * (w.sin() + 0.3 * (2.0 * w).sin())
}

/// A soft pad: two slightly detuned sines fading in.
fn pad(f: f64, t: f64) -> f64 {
    let env = (t / 0.25).min(1.0);
    0.045 * env * ((TAU * f * 1.003 * t).sin() + (TAU * f * 0.997 * t).sin())
}

fn quantize(v: f64) -> i16 {
    (v * 32_767.0).round().clamp(-32_768.0, 32_767.0) as i16
}
