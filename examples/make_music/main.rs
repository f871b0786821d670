//! Writes the masters of the bundled songs (`music/`): one 16-bit WAV per song and the
//! cover PNG, which `scripts/make-music` then encodes and tags. Prints one line per song
//! for that script: master file, file in `music/`, title, artist, album (tab-separated).
//!
//!     cargo run --example make_music -- OUT_DIR

mod cover;
mod tunes;

use std::error::Error;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::args().nth(1).ok_or("usage: make_music OUT_DIR")?);
    std::fs::create_dir_all(&out)?;
    for tune in tunes::TUNES {
        let stem = Path::new(tune.file)
            .file_stem()
            .ok_or("a tune without a file name")?;
        let path = out.join(stem).with_extension("wav");
        let spec = hound::WavSpec {
            channels: tune.channels,
            sample_rate: tune.rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec)?;
        for s in tune.render() {
            w.write_sample(s)?;
        }
        w.finalize()?;
        eprintln!("{}: {:.1} s", path.display(), tune.seconds());
        println!(
            "{}\t{}\t{}\t{}\t{}",
            path.display(),
            tune.file,
            tune.title,
            tunes::ARTIST,
            tunes::ALBUM
        );
    }
    std::fs::write(out.join("cover.png"), cover::png()?)?;
    Ok(())
}
