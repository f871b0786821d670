//! The screen's framebuffer: a 240x240 RGB565 `DrawTarget`, the regions that changed
//! between two frames, and PNG encoding for golden tests and `--screen-png`.

use std::convert::Infallible;

use embedded_graphics::pixelcolor::raw::RawU16;
use embedded_graphics::pixelcolor::Rgb565;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

/// Width and height of the Pirate Audio's ST7789 panel, in pixels.
pub const SIZE: u32 = 240;

/// One full screen of pixels.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    pixels: Vec<Rgb565>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({SIZE}x{SIZE})")
    }
}

impl Default for Frame {
    fn default() -> Self {
        Frame::new()
    }
}

impl Frame {
    /// A black frame.
    pub fn new() -> Self {
        Frame {
            pixels: vec![Rgb565::BLACK; (SIZE * SIZE) as usize],
        }
    }

    pub fn pixels(&self) -> &[Rgb565] {
        &self.pixels
    }

    /// The pixel at `(x, y)`; black outside the frame.
    pub fn pixel(&self, x: u32, y: u32) -> Rgb565 {
        if x >= SIZE || y >= SIZE {
            return Rgb565::BLACK;
        }
        self.pixels
            .get((y * SIZE + x) as usize)
            .copied()
            .unwrap_or(Rgb565::BLACK)
    }

    /// The pixels of `area` row by row (clipped to the frame).
    pub fn region(&self, area: &Rectangle) -> impl Iterator<Item = Rgb565> + '_ {
        let area = area.intersection(&self.bounding_box());
        area.points()
            .map(move |p| self.pixel(p.x as u32, p.y as u32))
    }

    /// The rectangles to send so that a panel showing `before` shows `self`: one band per
    /// run of changed rows, narrowed to the changed columns. Empty when nothing changed.
    pub fn changes_since(&self, before: &Frame) -> Vec<Rectangle> {
        let mut bands = Vec::new();
        let mut current: Option<(u32, u32, u32, u32)> = None; // top, bottom, left, right
        for y in 0..SIZE {
            let row = (y * SIZE) as usize..((y + 1) * SIZE) as usize;
            let (now, was) = (&self.pixels[row.clone()], &before.pixels[row]);
            let first = now.iter().zip(was).position(|(a, b)| a != b);
            match first {
                Some(left) => {
                    let right = SIZE as usize
                        - 1
                        - now
                            .iter()
                            .rev()
                            .zip(was.iter().rev())
                            .position(|(a, b)| a != b)
                            .unwrap_or(0);
                    let (left, right) = (left as u32, right as u32);
                    current = Some(match current {
                        Some((top, _, l, r)) => (top, y, l.min(left), r.max(right)),
                        None => (y, y, left, right),
                    });
                }
                None => {
                    if let Some(band) = current.take() {
                        bands.push(band);
                    }
                }
            }
        }
        bands.extend(current);
        bands
            .into_iter()
            .map(|(top, bottom, left, right)| {
                Rectangle::new(
                    Point::new(left as i32, top as i32),
                    Size::new(right - left + 1, bottom - top + 1),
                )
            })
            .collect()
    }

    /// The frame as 8-bit RGB, row by row.
    pub fn to_rgb888(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pixels.len() * 3);
        for p in &self.pixels {
            // Expand 5/6 bits to 8 by repeating the top bits, so white stays 255.
            let (r, g, b) = (p.r(), p.g(), p.b());
            out.extend([
                (r << 3) | (r >> 2),
                (g << 2) | (g >> 4),
                (b << 3) | (b >> 2),
            ]);
        }
        out
    }

    /// The frame as a PNG file's bytes.
    pub fn to_png(&self) -> Result<Vec<u8>, png::EncodingError> {
        let mut bytes = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut bytes, SIZE, SIZE);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&self.to_rgb888())?;
        }
        Ok(bytes)
    }

    /// Reads a PNG written by [`Frame::to_png`] (8-bit RGB, 240x240).
    pub fn from_png(bytes: &[u8]) -> Result<Frame, png::DecodingError> {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info()?;
        let mut buf = vec![0; reader.output_buffer_size().unwrap_or(0)];
        let info = reader.next_frame(&mut buf)?;
        let wrong = || {
            png::DecodingError::IoError(std::io::Error::other(format!(
                "expected a {SIZE}x{SIZE} 8-bit RGB image"
            )))
        };
        if info.width != SIZE || info.height != SIZE || info.color_type != png::ColorType::Rgb {
            return Err(wrong());
        }
        let pixels = buf
            .chunks_exact(3)
            .take((SIZE * SIZE) as usize)
            .map(|c| Rgb565::new(c[0] >> 3, c[1] >> 2, c[2] >> 3))
            .collect();
        Ok(Frame { pixels })
    }

    /// The raw big-endian RGB565 words of `area`, as the ST7789 expects them.
    pub fn raw_region(&self, area: &Rectangle) -> impl Iterator<Item = u16> + '_ {
        self.region(area).map(|c| RawU16::from(c).into_inner())
    }
}

impl OriginDimensions for Frame {
    fn size(&self) -> Size {
        Size::new(SIZE, SIZE)
    }
}

impl DrawTarget for Frame {
    type Color = Rgb565;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        for Pixel(point, color) in pixels {
            if let (Ok(x), Ok(y)) = (u32::try_from(point.x), u32::try_from(point.y)) {
                if x < SIZE && y < SIZE {
                    if let Some(p) = self.pixels.get_mut((y * SIZE + x) as usize) {
                        *p = color;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::primitives::{PrimitiveStyle, StyledDrawable};

    #[test]
    fn changes_are_the_bands_of_changed_rows() {
        let before = Frame::new();
        let mut after = before.clone();
        assert!(after.changes_since(&before).is_empty());
        let style = PrimitiveStyle::with_fill(Rgb565::RED);
        let _ = Rectangle::new(Point::new(10, 20), Size::new(5, 3)).draw_styled(&style, &mut after);
        let _ =
            Rectangle::new(Point::new(100, 200), Size::new(40, 2)).draw_styled(&style, &mut after);
        let changes = after.changes_since(&before);
        assert_eq!(
            changes,
            vec![
                Rectangle::new(Point::new(10, 20), Size::new(5, 3)),
                Rectangle::new(Point::new(100, 200), Size::new(40, 2)),
            ]
        );
    }

    #[test]
    fn png_round_trip_keeps_every_pixel() {
        let mut frame = Frame::new();
        let style = PrimitiveStyle::with_fill(Rgb565::new(31, 40, 7));
        let _ = Rectangle::new(Point::new(1, 2), Size::new(50, 60)).draw_styled(&style, &mut frame);
        let png = frame.to_png().expect("encode");
        assert_eq!(Frame::from_png(&png).expect("decode"), frame);
    }
}
