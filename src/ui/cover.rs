//! Cover art embedded in a song: decoded from PNG or JPEG bytes, and scaled to a square.
//!
//! Songs come from other people's music folders, so the bytes are untrusted: the size in
//! the header is checked against [`MAX_SIDE`] before any pixel buffer is allocated.

use embedded_graphics::pixelcolor::{Rgb565, Rgb888, RgbColor};

pub use super::view::Cover;

/// The largest width or height accepted (a 4096x4096 RGB picture is 48 MiB).
pub const MAX_SIDE: u32 = 4096;

/// Why a picture could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CoverError {
    #[error("not a PNG or JPEG picture")]
    UnknownFormat,
    #[error("picture is {width}x{height}, larger than {MAX_SIDE}x{MAX_SIDE}")]
    TooLarge { width: u32, height: u32 },
    #[error("picture has no pixels")]
    Empty,
    #[error("bad PNG: {0}")]
    Png(#[from] png::DecodingError),
    #[error("bad JPEG: {0:?}")]
    Jpeg(String),
}

/// Decodes a PNG or JPEG picture (told apart by their signatures) into RGB888.
pub fn decode(bytes: &[u8]) -> Result<Cover, CoverError> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        decode_png(bytes)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        decode_jpeg(bytes)
    } else {
        Err(CoverError::UnknownFormat)
    }
}

fn check_size(width: u32, height: u32) -> Result<(), CoverError> {
    if width == 0 || height == 0 {
        return Err(CoverError::Empty);
    }
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(CoverError::TooLarge { width, height });
    }
    Ok(())
}

fn decode_png(bytes: &[u8]) -> Result<Cover, CoverError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let header = decoder.read_header_info()?;
    check_size(header.width, header.height)?;
    // Palette, 16-bit and low-bit-depth pictures all come out as 8-bit samples.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info()?;
    let mut buf = vec![0; reader.output_buffer_size().ok_or(CoverError::Empty)?];
    let info = reader.next_frame(&mut buf)?;
    let (width, height) = (info.width, info.height);
    let pixels = (width * height) as usize;
    let rgb: Vec<u8> = match info.color_type {
        png::ColorType::Rgb => buf.get(..pixels * 3).map(<[u8]>::to_vec),
        png::ColorType::Rgba => Some(
            buf.chunks_exact(4)
                .take(pixels)
                .flat_map(|p| [p[0], p[1], p[2]])
                .collect(),
        ),
        png::ColorType::Grayscale => {
            Some(buf.iter().take(pixels).flat_map(|&g| [g, g, g]).collect())
        }
        png::ColorType::GrayscaleAlpha => Some(
            buf.chunks_exact(2)
                .take(pixels)
                .flat_map(|p| [p[0], p[0], p[0]])
                .collect(),
        ),
        png::ColorType::Indexed => None,
    }
    .ok_or(CoverError::Empty)?;
    if rgb.len() != pixels * 3 {
        return Err(CoverError::Empty);
    }
    Ok(Cover { width, height, rgb })
}

fn decode_jpeg(bytes: &[u8]) -> Result<Cover, CoverError> {
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;

    // zune-jpeg's own size limits stay at their defaults so that a large picture is
    // reported as `TooLarge` by `check_size`, after the headers and before any pixels.
    let options = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder =
        zune_jpeg::JpegDecoder::new_with_options(std::io::Cursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| CoverError::Jpeg(format!("{e:?}")))?;
    let info = decoder.info().ok_or(CoverError::Empty)?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check_size(width, height)?;
    let size = decoder.output_buffer_size().ok_or(CoverError::Empty)?;
    if size != (width * height * 3) as usize {
        return Err(CoverError::Jpeg(format!("unexpected output size {size}")));
    }
    let mut rgb = vec![0; size];
    decoder
        .decode_into(&mut rgb)
        .map_err(|e| CoverError::Jpeg(format!("{e:?}")))?;
    Ok(Cover { width, height, rgb })
}

/// The cover made `size` x `size` once (see [`scale_to_fit`]), so that a screen redrawn
/// 20 times a second copies pixels instead of averaging a large picture every frame.
pub fn resized(cover: &Cover, size: u32) -> Cover {
    let rgb = scale_to_fit(cover, size)
        .into_iter()
        .flat_map(|p| {
            let (r, g, b) = (p.r(), p.g(), p.b());
            [
                (r << 3) | (r >> 2),
                (g << 2) | (g >> 4),
                (b << 3) | (b >> 2),
            ]
        })
        .collect();
    Cover {
        width: size,
        height: size,
        rgb,
    }
}

/// The cover as `size` x `size` pixels, row by row: the centre square of the picture
/// (covers are nearly always square; a wide one loses its sides rather than leaving
/// bars), each output pixel the average of the source pixels it covers, so shrinking a
/// large picture does not alias. Pictures smaller than `size` are enlarged by repeating
/// pixels.
pub fn scale_to_fit(cover: &Cover, size: u32) -> Vec<Rgb565> {
    let side = cover.width.min(cover.height);
    let expected = (cover.width as usize) * (cover.height as usize) * 3;
    if side == 0 || size == 0 || cover.rgb.len() < expected {
        return vec![Rgb565::new(0, 0, 0); (size as usize).saturating_mul(size as usize)];
    }
    let (x0, y0) = ((cover.width - side) / 2, (cover.height - side) / 2);
    let (side64, size64) = (u64::from(side), u64::from(size));
    let span = |i: u32| {
        let start = u64::from(i) * side64 / size64;
        let end = (u64::from(i + 1) * side64 / size64).max(start + 1);
        (start as u32, end as u32)
    };
    let mut out = Vec::with_capacity((size as usize).saturating_mul(size as usize));
    for oy in 0..size {
        let (sy0, sy1) = span(oy);
        for ox in 0..size {
            let (sx0, sx1) = span(ox);
            let mut sum = [0u32; 3];
            for sy in sy0..sy1 {
                let row = ((y0 + sy) * cover.width) as usize;
                for sx in sx0..sx1 {
                    let i = (row + (x0 + sx) as usize) * 3;
                    if let Some(p) = cover.rgb.get(i..i + 3) {
                        sum[0] += u32::from(p[0]);
                        sum[1] += u32::from(p[1]);
                        sum[2] += u32::from(p[2]);
                    }
                }
            }
            let n = (sy1 - sy0) * (sx1 - sx0);
            let avg = |c: u32| (c / n.max(1)) as u8;
            out.push(Rgb565::from(Rgb888::new(
                avg(sum[0]),
                avg(sum[1]),
                avg(sum[2]),
            )));
        }
    }
    out
}

#[cfg(test)]
#[path = "cover_tests.rs"]
mod tests;
