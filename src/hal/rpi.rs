//! Raspberry Pi backends: buttons on the GPIO character device, the ST7789 over spidev.
//!
//! Both sit behind embedded-hal traits ([`ButtonPoller`], [`St7789Panel`]) so their logic
//! is tested with embedded-hal-mock; the `open`/`spawn` functions plug in the real
//! linux-embedded-hal devices. Why the character device and not rppal: board/README.md.

use std::io;
use std::path::Path;
use std::sync::mpsc::Sender;
use std::time::Duration;

use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::spi::SpiDevice;
use linux_embedded_hal::gpio_cdev::{self, Chip, LineRequestFlags};
use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
use linux_embedded_hal::{CdevPin, Delay, SpidevDevice};
use mipidsi::interface::SpiInterface;
use mipidsi::models::ST7789;
use mipidsi::options::{ColorInversion, Orientation, Rotation};
use mipidsi::{Builder, Display, NoResetPin};
use tokio_util::sync::CancellationToken;

use super::pins::{ButtonsTable, DisplayTable};
use super::{Button, ButtonEdge, HalError, Panel};
use crate::core::Instant;
use crate::ui::frame::{Frame, SIZE};

/// 200 Hz: far quicker than a 30 ms tap, and four line reads cost next to nothing.
const POLL_EVERY: Duration = Duration::from_millis(5);
/// The name `gpioinfo` shows for the lines we hold.
const CONSUMER: &str = "chorus";
const GPIO_FIX: &str = "the Pi's GPIO driver makes it; on other boards enable the GPIO \
                        controller in the device tree, and the chorus user needs group gpio";
const SPI_FIX: &str = "enable SPI: dtparam=spi=on in config.txt (Raspberry Pi OS), or run \
                       chorus-dtb as root and reboot (Debian's kernel, see board/README.md); \
                       the chorus user needs group spi";
/// spidev refuses single transfers above its `bufsiz` (4096 bytes by default), so the
/// pixel batch buffer is exactly that.
const SPI_CHUNK: usize = 4096;

/// Reads button lines through [`InputPin`] and reports every level change as an edge.
#[derive(Debug)]
pub struct ButtonPoller<P> {
    pins: Vec<(Button, P)>,
    active_low: bool,
    /// Per pin: last level seen (pressed) and whether its last read failed.
    state: Vec<(bool, bool)>,
}

impl<P: InputPin> ButtonPoller<P> {
    /// Starts with every button released, so one held at start shows up as a press.
    pub fn new(pins: Vec<(Button, P)>, active_low: bool) -> Self {
        let state = vec![(false, false); pins.len()];
        ButtonPoller {
            pins,
            active_low,
            state,
        }
    }

    /// Reads every pin once; the edges of the pins whose level changed.
    pub fn poll(&mut self, at: Instant) -> Vec<ButtonEdge> {
        let mut edges = Vec::new();
        for ((button, pin), (last, failing)) in self.pins.iter_mut().zip(&mut self.state) {
            let low = match pin.is_low() {
                Ok(low) => low,
                Err(err) => {
                    if !*failing {
                        // Once per outage: at 200 Hz a dead line would flood the log.
                        tracing::warn!(%button, ?err, "cannot read button line");
                    }
                    *failing = true;
                    continue;
                }
            };
            *failing = false;
            let (button, pressed) = (*button, low == self.active_low);
            if pressed != *last {
                *last = pressed;
                edges.push(ButtonEdge {
                    button,
                    pressed,
                    at,
                });
            }
        }
        edges
    }

    /// Polls every 5 ms until `cancel` or until nobody listens to `edges`.
    pub fn run(
        mut self,
        edges: Sender<ButtonEdge>,
        cancel: CancellationToken,
        clock: fn() -> Instant,
    ) {
        while !cancel.is_cancelled() {
            for edge in self.poll(clock()) {
                if edges.send(edge).is_err() {
                    return;
                }
            }
            std::thread::sleep(POLL_EVERY);
        }
    }
}

/// Requests the four button lines of `cfg.chip` as inputs and polls them on a thread.
///
/// The pull-ups come from config.txt (`gpio=5,6,16,24=ip,pu`): gpio-cdev speaks the v1
/// character-device ABI, which has no bias flags.
pub fn spawn_buttons(
    cfg: &ButtonsTable,
    edges: Sender<ButtonEdge>,
    cancel: CancellationToken,
    clock: fn() -> Instant,
) -> Result<std::thread::JoinHandle<()>, HalError> {
    let mut chip = open_chip(&cfg.chip)?;
    let mut pins = Vec::new();
    for (button, line) in cfg.lines() {
        pins.push((button, request_line(&mut chip, &cfg.chip, line, false)?));
    }
    let poller = ButtonPoller::new(pins, cfg.active_low);
    let device = cfg.chip.display().to_string();
    std::thread::Builder::new()
        .name("chorus-buttons".into())
        .spawn(move || poller.run(edges, cancel, clock))
        .map_err(|e| broken(&device, format!("no button thread: {e}")))
}

/// A device that opened but misbehaves; `message` says what to check.
fn broken(device: &str, message: String) -> HalError {
    HalError::Device {
        device: device.to_owned(),
        message,
    }
}

fn open_chip(path: &Path) -> Result<Chip, HalError> {
    Chip::new(path).map_err(|e| cdev_error(path, None, e))
}

/// Line `line` as an input, or as an output driven low.
fn request_line(
    chip: &mut Chip,
    path: &Path,
    line: u32,
    output: bool,
) -> Result<CdevPin, HalError> {
    let flags = match output {
        true => LineRequestFlags::OUTPUT,
        false => LineRequestFlags::INPUT,
    };
    chip.get_line(line)
        .and_then(|l| l.request(flags, 0, CONSUMER))
        .and_then(CdevPin::new)
        .map_err(|e| cdev_error(path, Some(line), e))
}

/// Sorts a gpio-cdev error into missing / permission (from the open) or a line problem.
fn cdev_error(path: &Path, line: Option<u32>, err: gpio_cdev::Error) -> HalError {
    let device = path.display().to_string();
    // gpio-cdev hides its error kind; opening the chip fails with an io::Error inside.
    let io_kind = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    match (io_kind, line) {
        (Some(kind), None) => {
            let source = io::Error::new(kind, err.to_string());
            HalError::opening(&device, "gpio", GPIO_FIX, source)
        }
        (_, Some(line)) => broken(
            &device,
            format!("cannot use GPIO {line} ({err}); if busy, see `gpioinfo` for who holds it"),
        ),
        (None, None) => broken(&device, err.to_string()),
    }
}

/// The ST7789 240x240 panel as a [`Panel`], over any SPI device and output pins.
pub struct St7789Panel<SPI: SpiDevice, DC: OutputPin, BL> {
    display: Display<SpiInterface<'static, SPI, DC>, ST7789, NoResetPin>,
    backlight: BL,
    device: String,
    /// What [`Panel::backlight`] last asked for.
    lit: bool,
    /// Until the first frame is shown the panel shows leftover memory: keep it dark.
    shown: bool,
}

/// The panel on the real Pi.
pub type RpiPanel = St7789Panel<SpidevDevice, CdevPin, CdevPin>;

impl<SPI: SpiDevice, DC: OutputPin, BL> std::fmt::Debug for St7789Panel<SPI, DC, BL> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "St7789Panel({})", self.device)
    }
}

impl<SPI: SpiDevice, DC: OutputPin, BL: OutputPin> St7789Panel<SPI, DC, BL> {
    /// Initialises the panel (about 0.3 s of `delay`); the backlight stays as it is
    /// until the first frame is shown.
    pub fn new(
        spi: SPI,
        dc: DC,
        backlight: BL,
        cfg: &DisplayTable,
        delay: &mut impl DelayNs,
        device: String,
    ) -> Result<Self, HalError> {
        let degrees = cfg.rotation_degrees;
        let rotation = Rotation::try_from_degree(i32::from(degrees)).map_err(|_| {
            broken(
                &device,
                format!("rotation_degrees {degrees} is not 0/90/180/270"),
            )
        })?;
        let inversion = match cfg.invert_colors {
            true => ColorInversion::Inverted,
            false => ColorInversion::Normal,
        };
        // mipidsi borrows its batch buffer for the display's lifetime; a panel lives as
        // long as the process, so leaking one 4 KiB buffer per panel opened is fine.
        let buffer: &'static mut [u8] = Box::leak(vec![0; SPI_CHUNK].into_boxed_slice());
        let side = SIZE as u16;
        let display = Builder::new(ST7789, SpiInterface::new(spi, dc, buffer))
            .display_size(side, side)
            .invert_colors(inversion)
            .orientation(Orientation::new().rotate(rotation))
            .init(delay)
            .map_err(|e| broken(&device, format!("init failed ({e:?}); is the board on?")))?;
        Ok(St7789Panel {
            display,
            backlight,
            device,
            lit: true,
            shown: false,
        })
    }

    fn drive_backlight(&mut self) -> Result<(), HalError> {
        let state = embedded_hal::digital::PinState::from(self.lit);
        self.backlight
            .set_state(state)
            .map_err(|e| broken(&self.device, format!("cannot switch the backlight: {e:?}")))
    }
}

impl<SPI, DC, BL> Panel for St7789Panel<SPI, DC, BL>
where
    SPI: SpiDevice + Send,
    DC: OutputPin + Send,
    BL: OutputPin + Send,
{
    fn show(&mut self, frame: &Frame, changed: &[Rectangle]) -> Result<(), HalError> {
        for rect in changed {
            let area = rect.intersection(&frame.bounding_box());
            let Some(end) = area.bottom_right() else {
                continue; // empty
            };
            let corners = [area.top_left.x, area.top_left.y, end.x, end.y].map(u16::try_from);
            let [Ok(sx), Ok(sy), Ok(ex), Ok(ey)] = corners else {
                continue; // outside the frame: intersection leaves none of these
            };
            // Only this rectangle goes over the wire: a clock tick is a few hundred
            // bytes, not the 115 KB of a full screen.
            self.display
                .set_pixels(sx, sy, ex, ey, frame.region(&area))
                .map_err(|e| broken(&self.device, format!("write failed: {e:?}")))?;
        }
        if !self.shown {
            self.shown = true;
            self.drive_backlight()?;
        }
        Ok(())
    }

    fn backlight(&mut self, on: bool) -> Result<(), HalError> {
        self.lit = on;
        if self.shown {
            self.drive_backlight()?;
        }
        Ok(())
    }
}

/// Opens the panel of `cfg`: spidev in mode 0 at `spi_hz`, the DC and backlight lines
/// as outputs (backlight off until the first frame).
pub fn open_panel(cfg: &DisplayTable) -> Result<RpiPanel, HalError> {
    let device = cfg.spi.display().to_string();
    let mut spi = SpidevDevice::open(&cfg.spi).map_err(|e| {
        let source = io::Error::new(e.inner().kind(), e.to_string());
        HalError::opening(&device, "spi", SPI_FIX, source)
    })?;
    let options = SpidevOptions::new()
        .bits_per_word(8)
        .max_speed_hz(cfg.spi_hz)
        .mode(SpiModeFlags::SPI_MODE_0)
        .build();
    spi.configure(&options).map_err(|e| {
        broken(
            &device,
            format!("cannot set SPI mode 0 at {} Hz: {e}", cfg.spi_hz),
        )
    })?;
    let mut chip = open_chip(&cfg.chip)?;
    let dc = request_line(&mut chip, &cfg.chip, cfg.dc, true)?;
    let backlight = request_line(&mut chip, &cfg.chip, cfg.backlight, true)?;
    St7789Panel::new(spi, dc, backlight, cfg, &mut Delay, device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::Rgb565;
    use embedded_graphics::primitives::{PrimitiveStyle, StyledDrawable};
    use embedded_hal_mock::eh1::delay::NoopDelay;
    use embedded_hal_mock::eh1::digital::{Mock as Pin, State, Transaction as PinT};
    use embedded_hal_mock::eh1::spi::{Mock as Spi, Transaction as SpiT};

    /// One write through the SpiDevice: its own transaction.
    fn write(spi: &mut Vec<SpiT<u8>>, bytes: &[u8]) {
        spi.extend([
            SpiT::transaction_start(),
            SpiT::write_vec(bytes.to_vec()),
            SpiT::transaction_end(),
        ]);
    }

    /// A command byte with DC low, then its arguments with DC high.
    fn command(spi: &mut Vec<SpiT<u8>>, dc: &mut Vec<PinT>, code: u8, args: &[u8]) {
        dc.extend([PinT::set(State::Low), PinT::set(State::High)]);
        write(spi, &[code]);
        write(spi, args);
    }

    /// What mipidsi's init sends at rotation 90: reset, sleep out, MADCTL (row/column
    /// exchange + column mirror = 0x60), inversion on, 16-bit pixels, normal, on.
    fn init(spi: &mut Vec<SpiT<u8>>, dc: &mut Vec<PinT>) {
        for code in [0x01, 0x11, 0x36, 0x21, 0x3A, 0x13, 0x29] {
            let args: &[u8] = match code {
                0x36 => &[0x60],
                0x3A => &[0x55],
                _ => &[],
            };
            command(spi, dc, code, args);
        }
    }

    /// An input pin that reads the levels of `levels` ('H' high, 'L' low) in turn.
    fn input(levels: &str) -> Pin {
        let state = |c| if c == 'L' { State::Low } else { State::High };
        Pin::new(
            &levels
                .chars()
                .map(|c| PinT::get(state(c)))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn show_sends_only_the_changed_rectangle() {
        let (mut s, mut d) = (Vec::new(), Vec::new());
        init(&mut s, &mut d);
        // Columns 10..=12, rows 20..=21 (no offset at rotation 90 on a 240x240 ST7789).
        command(&mut s, &mut d, 0x2A, &[0, 10, 0, 12]);
        command(&mut s, &mut d, 0x2B, &[0, 20, 0, 21]);
        command(&mut s, &mut d, 0x2C, &[]);
        write(&mut s, &[0xF8, 0x00].repeat(6)); // red, big-endian RGB565
        let (spi, dc) = (Spi::new(&s), Pin::new(&d));
        let light = Pin::new(&[PinT::set(State::High), PinT::set(State::Low)]);
        let (mut spi_done, mut dc_done, mut light_done) = (spi.clone(), dc.clone(), light.clone());
        let cfg = DisplayTable::default();
        let mut panel =
            St7789Panel::new(spi, dc, light, &cfg, &mut NoopDelay, "test".into()).expect("init");

        let mut frame = Frame::new();
        let rect = Rectangle::new(Point::new(10, 20), Size::new(3, 2));
        let _ = rect.draw_styled(&PrimitiveStyle::with_fill(Rgb565::RED), &mut frame);
        panel.show(&frame, &[rect]).expect("show"); // first frame: backlight on
        panel
            .show(&frame, &[])
            .expect("nothing changed: nothing sent");
        panel.backlight(false).expect("dim");
        spi_done.done();
        dc_done.done();
        light_done.done();
    }

    #[test]
    fn the_poller_reports_level_changes_active_low() {
        let (a, y) = (input("HLLH"), input("HHLL"));
        let (mut a_done, mut y_done) = (a.clone(), y.clone());
        let mut poller = ButtonPoller::new(vec![(Button::A, a), (Button::Y, y)], true);
        let t = Instant::from_nanos;
        let edge = |button, pressed, at| ButtonEdge {
            button,
            pressed,
            at: t(at),
        };
        let edges: Vec<_> = (0..4).flat_map(|i| poller.poll(t(i))).collect();
        assert_eq!(
            edges,
            vec![
                edge(Button::A, true, 1),
                edge(Button::Y, true, 2),
                edge(Button::A, false, 3)
            ]
        );
        a_done.done();
        y_done.done();
    }

    #[test]
    fn the_poller_stops_when_cancelled_or_unheard() {
        let (tx, rx) = std::sync::mpsc::channel();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let mut idle = Pin::new(&[]);
        ButtonPoller::new(vec![(Button::A, idle.clone())], true)
            .run(tx.clone(), cancel, || Instant::ZERO);
        idle.done();
        drop(rx);
        let mut pressed = input("L");
        ButtonPoller::new(vec![(Button::B, pressed.clone())], true).run(
            tx,
            CancellationToken::new(),
            || Instant::ZERO,
        );
        pressed.done();
    }
}
