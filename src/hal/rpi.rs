//! Raspberry Pi backends: buttons on the GPIO character device, the ST7789 over spidev.
