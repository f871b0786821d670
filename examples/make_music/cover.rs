//! The cover art embedded in the bundled FLAC song: three speaker cones on a dusk
//! gradient with a wave through them, drawn pixel by pixel so it needs no image files.

/// Width and height of the cover, in pixels.
pub const SIDE: u32 = 240;

/// Centres of the three speaker cones, and their outer radius.
const CONES: [(f64, f64); 3] = [(60.0, 150.0), (120.0, 110.0), (180.0, 150.0)];
const CONE_RADIUS: f64 = 34.0;

/// The colour of pixel (`x`, `y`).
pub fn pixel(x: u32, y: u32) -> [u8; 3] {
    let (fx, fy) = (f64::from(x), f64::from(y));
    let wave = 60.0 + 18.0 * (fx / 240.0 * std::f64::consts::TAU * 1.5).sin();
    if (fy - wave).abs() < 2.5 {
        return [255, 236, 170];
    }
    for (cx, cy) in CONES {
        let r = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
        if r < CONE_RADIUS {
            // Rings every 8 pixels, a dark dust cap in the middle.
            let shade = if r < 9.0 {
                30
            } else if (r as u32 / 8) % 2 == 0 {
                70
            } else {
                110
            };
            return [shade, shade, shade + 20];
        }
        if r < CONE_RADIUS + 4.0 {
            return [200, 200, 210];
        }
    }
    // Dusk: deep blue at the top to orange at the bottom.
    let k = fy / f64::from(SIDE - 1);
    let mix = |a: f64, b: f64| (a + (b - a) * k).round() as u8;
    [mix(20.0, 240.0), mix(30.0, 130.0), mix(90.0, 60.0)]
}

/// The cover as PNG bytes.
pub fn png() -> Result<Vec<u8>, png::EncodingError> {
    let mut data = Vec::with_capacity((SIDE * SIDE * 3) as usize);
    for y in 0..SIDE {
        for x in 0..SIDE {
            data.extend_from_slice(&pixel(x, y));
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, SIDE, SIDE);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    encoder.write_header()?.write_image_data(&data)?;
    Ok(out)
}
