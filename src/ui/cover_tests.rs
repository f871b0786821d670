//! Tests of cover decoding and scaling: PNGs made with the png encoder, and a tiny
//! baseline JPEG assembled here byte by byte (no JPEG encoder is at hand in tests).

use super::*;
use embedded_graphics::pixelcolor::RgbColor;

fn png_bytes(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("png header");
        writer.write_image_data(data).expect("png data");
    }
    bytes
}

#[test]
fn png_rgb_decodes_pixel_for_pixel() {
    let data = [
        255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90,
    ];
    let cover = decode(&png_bytes(3, 2, png::ColorType::Rgb, &data)).expect("decode");
    assert_eq!((cover.width, cover.height), (3, 2));
    assert_eq!(cover.rgb, data);
}

#[test]
fn png_with_alpha_and_grey_become_rgb() {
    let rgba = [1, 2, 3, 255, 4, 5, 6, 0];
    let cover = decode(&png_bytes(2, 1, png::ColorType::Rgba, &rgba)).expect("rgba");
    assert_eq!(cover.rgb, [1, 2, 3, 4, 5, 6]);
    let grey = decode(&png_bytes(2, 1, png::ColorType::Grayscale, &[7, 9])).expect("grey");
    assert_eq!(grey.rgb, [7, 7, 7, 9, 9, 9]);
}

#[test]
fn huge_png_is_refused_before_decoding() {
    let wide = png_bytes(
        MAX_SIDE + 1,
        1,
        png::ColorType::Grayscale,
        &vec![0; (MAX_SIDE + 1) as usize],
    );
    assert!(
        matches!(decode(&wide), Err(CoverError::TooLarge { width, .. }) if width == MAX_SIDE + 1)
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(matches!(decode(b"hello"), Err(CoverError::UnknownFormat)));
    assert!(decode(b"\x89PNG\r\n\x1a\n\0\0").is_err());
    assert!(decode(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 2]).is_err());
}

/// Appends `value` of JPEG size category `cat` (negative values one's-complement style).
fn push_bits(bits: &mut Vec<bool>, code: &[bool], value: i32, cat: u32) {
    bits.extend_from_slice(code);
    let v = if value >= 0 {
        value
    } else {
        value + (1 << cat) - 1
    };
    for i in (0..cat).rev() {
        bits.push((v >> i) & 1 == 1);
    }
}

/// A 16x8 baseline JPEG: the left 8x8 block pure red, the right pure blue. Quantisation
/// is all ones and each block has only a DC coefficient, 8 * (sample - 128).
pub(super) fn tiny_jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend([0xFF, 0xDB, 0, 67, 0]);
    j.extend([1u8; 64]);
    j.extend([
        0xFF, 0xC0, 0, 17, 8, 0, 8, 0, 16, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0,
    ]);
    // DC table: categories 9, 10, 11 with the 2-bit codes 00, 01, 10.
    j.extend([
        0xFF, 0xC4, 0, 22, 0x00, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 10, 11,
    ]);
    // AC table: only end-of-block, code 0.
    j.extend([
        0xFF, 0xC4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    j.extend([0xFF, 0xDA, 0, 12, 3, 1, 0x00, 2, 0x00, 3, 0x00, 0, 63, 0]);
    let dc_code = |cat: u32| match cat {
        9 => [false, false],
        10 => [false, true],
        _ => [true, false],
    };
    let category = |v: i32| 32 - v.unsigned_abs().leading_zeros();
    // Red is Y 76, Cb 85, Cr 255; blue is Y 29, Cb 255, Cr 107.
    let blocks = [[76, 85, 255], [29, 255, 107]];
    let mut previous = [0i32; 3];
    let mut bits = Vec::new();
    for block in blocks {
        for (c, sample) in block.iter().enumerate() {
            let dc = 8 * (sample - 128);
            let diff = dc - previous[c];
            previous[c] = dc;
            let cat = category(diff);
            push_bits(&mut bits, &dc_code(cat), diff, cat);
            bits.push(false); // end of block
        }
    }
    while bits.len() % 8 != 0 {
        bits.push(true);
    }
    for byte in bits.chunks(8) {
        let b = byte
            .iter()
            .fold(0u8, |acc, &bit| (acc << 1) | u8::from(bit));
        j.push(b);
        if b == 0xFF {
            j.push(0);
        }
    }
    j.extend([0xFF, 0xD9]);
    j
}

#[test]
fn baseline_jpeg_decodes_to_its_colours() {
    let cover = decode(&tiny_jpeg()).expect("decode jpeg");
    assert_eq!((cover.width, cover.height), (16, 8));
    let px = |x: usize, y: usize| {
        let i = (y * 16 + x) * 3;
        (cover.rgb[i], cover.rgb[i + 1], cover.rgb[i + 2])
    };
    let (r, g, b) = px(2, 3);
    assert!(r > 220 && g < 40 && b < 40, "left is red: {r} {g} {b}");
    let (r, g, b) = px(13, 4);
    assert!(r < 40 && g < 40 && b > 220, "right is blue: {r} {g} {b}");
}

#[test]
fn huge_jpeg_is_refused() {
    let mut jpeg = tiny_jpeg();
    // SOF0 follows SOI (2 bytes) and the DQT segment (69 bytes): width at +7.
    let sof = 2 + 69;
    assert_eq!(jpeg[sof + 1], 0xC0);
    jpeg[sof + 7] = 0x20; // width 0x2010
    assert!(decode(&jpeg).is_err());
}

#[test]
fn scaling_averages_down_and_crops_to_the_centre_square() {
    // 4x2: a 2x2 centre of white between black columns.
    let mut rgb = Vec::new();
    for _ in 0..2 {
        for x in 0..4 {
            let v = if x == 1 || x == 2 { 255 } else { 0 };
            rgb.extend([v, v, v]);
        }
    }
    let cover = Cover {
        width: 4,
        height: 2,
        rgb,
    };
    assert_eq!(scale_to_fit(&cover, 1), vec![Rgb565::new(31, 63, 31)]);
    let up = scale_to_fit(&cover, 4);
    assert_eq!(up.len(), 16);
    assert!(up.iter().all(|&p| p == Rgb565::new(31, 63, 31)));
}

#[test]
fn scaling_a_checkerboard_down_gives_grey() {
    let mut rgb = Vec::new();
    for y in 0..4 {
        for x in 0..4 {
            let v = if (x + y) % 2 == 0 { 255 } else { 0 };
            rgb.extend([v, v, v]);
        }
    }
    let cover = Cover {
        width: 4,
        height: 4,
        rgb,
    };
    let px = scale_to_fit(&cover, 2);
    assert!(px.iter().all(|p| (14..=16).contains(&p.r())), "{px:?}");
}
