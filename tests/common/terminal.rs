//! A program in a terminal of its own (tmux), driven the way a person drives it: keys in,
//! the screen's text out.

use std::process::Command;

/// A tmux server of its own running one program; killed with everything in it when
/// dropped. (One server per terminal: a server shared with other tests could be on its
/// way out when its last session ends, and refuse the next one.)
pub struct Terminal {
    socket: String,
}

impl Terminal {
    /// Starts `command` (a shell command line) in a `width` x `height` terminal; `name`
    /// must be unique among the tests running at once.
    pub fn start(name: &str, width: u16, height: u16, command: &str) -> Terminal {
        let terminal = Terminal {
            socket: format!("{name}-{}", std::process::id()),
        };
        let (w, h) = (width.to_string(), height.to_string());
        terminal
            .tmux(&["new-session", "-d", "-x", &w, "-y", &h, command])
            .expect("tmux starts");
        terminal
    }

    /// Types `keys` as they are.
    pub fn press(&self, keys: &str) {
        self.tmux(&["send-keys", "-l", keys]).expect("send-keys");
    }

    /// The screen's text, with its colour escapes if `colours`.
    pub fn screen(&self, colours: bool) -> String {
        let flags = if colours { "-pe" } else { "-p" };
        self.tmux(&["capture-pane", flags]).unwrap_or_default()
    }

    fn tmux(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .map_err(|e| format!("tmux: {e} (install tmux; ./scripts/test does)"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
