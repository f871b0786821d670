//! Which command each press of each button sends (configurable per button).
//!
//! The default a person learns in a minute, laid out as on the Pirate Audio (A top
//! left, B bottom left, X top right, Y bottom right): A is the party button (host or
//! join; held: leave, or end it as the host), B skips (held: back), X and Y are this
//! box's own volume, repeating while held.

use serde::{Deserialize, Serialize};

use crate::command::{Request, VolumeTarget};
use crate::ui::buttons::Button;
use crate::ui::buttons::{Hold, Press, PressKind};
use crate::ui::view::LegendRow;

/// Volume points one press (or one repeat) moves.
pub const VOLUME_STEP: i8 = 5;

/// What a press does. In TOML the kebab-case name: `"party"`, `"box-volume-up"` …
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Host a party, or join the newest invitation when one waits; nothing in a party.
    Party,
    /// Host a party (outside one).
    Host,
    /// Join the newest invitation (when one waits).
    Join,
    /// Leave the party; the host ends it.
    Leave,
    /// End the party (the host only).
    End,
    /// Next song.
    Skip,
    /// Previous song.
    Previous,
    Pause,
    Resume,
    /// This box's own volume up a step (repeats while held).
    BoxVolumeUp,
    /// This box's own volume down a step (repeats while held).
    BoxVolumeDown,
    /// The whole party's volume up a step (repeats while held).
    PartyVolumeUp,
    /// The whole party's volume down a step (repeats while held).
    PartyVolumeDown,
    /// Nothing.
    #[default]
    #[serde(rename = "none")]
    Nothing,
}

/// What the box is doing, as far as the buttons care.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// In a party, as host or member.
    pub in_party: bool,
    /// Hosting the party.
    pub host: bool,
    /// An invitation waits to be accepted.
    pub invitation_waiting: bool,
}

impl Action {
    /// Volume actions repeat while held (and so have no long press).
    pub fn repeats(self) -> bool {
        self.volume().is_some()
    }

    fn volume(self) -> Option<(VolumeTarget, i8)> {
        match self {
            Action::BoxVolumeUp => Some((VolumeTarget::Box, VOLUME_STEP)),
            Action::BoxVolumeDown => Some((VolumeTarget::Box, -VOLUME_STEP)),
            Action::PartyVolumeUp => Some((VolumeTarget::Party, VOLUME_STEP)),
            Action::PartyVolumeDown => Some((VolumeTarget::Party, -VOLUME_STEP)),
            _ => None,
        }
    }

    /// The request this action sends in `ctx`; `None` where it makes no sense (joining
    /// without an invitation, leaving outside a party), so a stray press does nothing.
    pub fn request(self, ctx: &Context) -> Option<Request> {
        // `party: None` asks for the preferred invitation: the newest one.
        let join = Request::Join { party: None };
        match self {
            Action::Party if ctx.in_party => None,
            Action::Party if ctx.invitation_waiting => Some(join),
            Action::Party | Action::Host => (!ctx.in_party).then_some(Request::host()),
            Action::Join => (!ctx.in_party && ctx.invitation_waiting).then_some(join),
            Action::Leave if !ctx.in_party => None,
            Action::Leave if ctx.host => Some(Request::End),
            Action::Leave => Some(Request::Leave),
            Action::End => (ctx.in_party && ctx.host).then_some(Request::End),
            Action::Skip => Some(Request::Skip),
            Action::Previous => Some(Request::Previous),
            Action::Pause => Some(Request::Pause),
            Action::Resume => Some(Request::Resume),
            Action::BoxVolumeUp
            | Action::BoxVolumeDown
            | Action::PartyVolumeUp
            | Action::PartyVolumeDown => self
                .volume()
                .map(|(target, delta)| Request::change_volume(target, delta)),
            Action::Nothing => None,
        }
    }

    /// One short word for the legend in `ctx`, upper case; `None` when a press would
    /// do nothing now.
    fn word(self, ctx: &Context) -> Option<&'static str> {
        self.request(ctx)?;
        Some(match self {
            Action::Party if ctx.invitation_waiting => "JOIN",
            Action::Party | Action::Host => "HOST",
            Action::Join => "JOIN",
            Action::Leave | Action::End if ctx.host => "END",
            Action::Leave | Action::End => "LEAVE",
            Action::Skip => "SKIP",
            Action::Previous => "PREV",
            Action::Pause => "PAUSE",
            Action::Resume => "PLAY",
            Action::BoxVolumeUp => "VOL+",
            Action::BoxVolumeDown => "VOL\u{2212}",
            Action::PartyVolumeUp => "ALL+",
            Action::PartyVolumeDown => "ALL\u{2212}",
            Action::Nothing => return None,
        })
    }
}

/// What one button does on a short and on a long press.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Binding {
    /// A tap (released before 0.8 s); for volume actions, every step while held.
    pub short: Action,
    /// Held 0.8 s. Ignored when `short` is a volume action: those repeat instead.
    pub long: Action,
}

impl Binding {
    pub const fn new(short: Action, long: Action) -> Self {
        Binding { short, long }
    }
}

/// The four buttons' bindings: `[buttons.actions]` in the configuration, e.g.
/// `a = { short = "party", long = "leave" }`. A button left out keeps its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Keymap {
    /// Top left. Default: party (host / join), held: leave (end as the host).
    pub a: Binding,
    /// Bottom left. Default: skip, held: previous.
    pub b: Binding,
    /// Top right. Default: this box's volume up; held: the party's volume up, repeating.
    pub x: Binding,
    /// Bottom right. Default: this box's volume down; held: the party's, repeating.
    pub y: Binding,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap {
            a: Binding::new(Action::Party, Action::Leave),
            b: Binding::new(Action::Skip, Action::Previous),
            x: Binding::new(Action::BoxVolumeUp, Action::PartyVolumeUp),
            y: Binding::new(Action::BoxVolumeDown, Action::PartyVolumeDown),
        }
    }
}

impl Keymap {
    pub fn binding(&self, button: Button) -> &Binding {
        match button {
            Button::A => &self.a,
            Button::B => &self.b,
            Button::X => &self.x,
            Button::Y => &self.y,
        }
    }

    /// Whether `button` auto-repeats its tap while held: its short action is a step
    /// and nothing is bound to holding it.
    pub fn repeats(&self, button: Button) -> bool {
        let b = self.binding(button);
        b.short.repeats() && b.long == Action::Nothing
    }

    /// How each button (A, B, X, Y) behaves while held, for
    /// [`crate::ui::buttons::Presses::with_holds`]: a step bound to holding repeats
    /// after the long press; a step alone repeats from the tap.
    pub fn holds(&self) -> [Hold; 4] {
        Button::ALL.map(|button| {
            let b = self.binding(button);
            if self.repeats(button) {
                Hold::Repeat
            } else if b.long.repeats() {
                Hold::LongThenRepeat
            } else {
                Hold::Long
            }
        })
    }

    /// The button that joins an invitation (short press), for the invitation screen's
    /// hint; `None` if no button is mapped to join.
    pub fn join_button(&self) -> Option<Button> {
        Button::ALL
            .into_iter()
            .find(|b| matches!(self.binding(*b).short, Action::Party | Action::Join))
    }

    /// The buttons that auto-repeat, for [`crate::ui::buttons::Presses::new`].
    pub fn repeating(&self) -> Vec<Button> {
        Button::ALL
            .into_iter()
            .filter(|b| self.repeats(*b))
            .collect()
    }

    /// The request `press` sends in `ctx`, if any.
    pub fn request(&self, press: Press, ctx: &Context) -> Option<Request> {
        let binding = self.binding(press.button);
        let repeats = self.repeats(press.button);
        let action = match press.kind {
            PressKind::Short => binding.short,
            // Only steps repeat: a repeat of "skip" would skip songs while held.
            PressKind::Repeat if repeats => binding.short,
            PressKind::Repeat if binding.long.repeats() => binding.long,
            PressKind::Repeat => return None,
            PressKind::Long if repeats => return None,
            PressKind::Long => binding.long,
        };
        action.request(ctx)
    }

    /// The legend in `ctx`: one row per button, in A B X Y order. A short press that
    /// does nothing now shows as an empty word.
    pub fn legend(&self, ctx: &Context) -> Vec<LegendRow> {
        Button::ALL
            .into_iter()
            .map(|button| {
                let b = self.binding(button);
                let long = if self.repeats(button) {
                    None
                } else {
                    b.long.word(ctx).map(str::to_lowercase)
                };
                LegendRow {
                    button,
                    short: b.short.word(ctx).unwrap_or_default().to_owned(),
                    long,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Context = Context {
        in_party: false,
        host: false,
        invitation_waiting: false,
    };
    const INVITED: Context = Context {
        invitation_waiting: true,
        ..IDLE
    };
    const HOST: Context = Context {
        in_party: true,
        host: true,
        invitation_waiting: false,
    };
    const MEMBER: Context = Context {
        in_party: true,
        host: false,
        invitation_waiting: false,
    };

    fn press(button: Button, kind: PressKind) -> Press {
        Press { button, kind }
    }

    #[test]
    fn the_party_button_hosts_joins_leaves_and_ends() {
        let k = Keymap::default();
        let short = press(Button::A, PressKind::Short);
        let long = press(Button::A, PressKind::Long);
        assert_eq!(k.request(short, &IDLE), Some(Request::host()));
        assert_eq!(
            k.request(short, &INVITED),
            Some(Request::Join { party: None })
        );
        assert_eq!(k.request(short, &HOST), None);
        assert_eq!(k.request(short, &MEMBER), None);
        assert_eq!(k.request(long, &IDLE), None);
        assert_eq!(k.request(long, &MEMBER), Some(Request::Leave));
        assert_eq!(k.request(long, &HOST), Some(Request::End));
    }

    #[test]
    fn skip_previous_box_volume_on_tap_and_party_volume_while_held() {
        let k = Keymap::default();
        for ctx in [IDLE, INVITED, HOST, MEMBER] {
            let r = |b, kind| k.request(press(b, kind), &ctx);
            assert_eq!(r(Button::B, PressKind::Short), Some(Request::Skip));
            assert_eq!(r(Button::B, PressKind::Long), Some(Request::Previous));
            assert_eq!(r(Button::B, PressKind::Repeat), None);
            let up = Some(Request::change_volume(VolumeTarget::Box, 5));
            let down = Some(Request::change_volume(VolumeTarget::Box, -5));
            let all_up = Some(Request::change_volume(VolumeTarget::Party, 5));
            let all_down = Some(Request::change_volume(VolumeTarget::Party, -5));
            assert_eq!(r(Button::X, PressKind::Short), up);
            assert_eq!(r(Button::X, PressKind::Long), all_up);
            assert_eq!(r(Button::X, PressKind::Repeat), all_up);
            assert_eq!(r(Button::Y, PressKind::Short), down);
            assert_eq!(r(Button::Y, PressKind::Long), all_down);
            assert_eq!(r(Button::Y, PressKind::Repeat), all_down);
        }
        assert_eq!(k.repeating(), Vec::<Button>::new());
        assert_eq!(
            k.holds(),
            [
                Hold::Long,
                Hold::Long,
                Hold::LongThenRepeat,
                Hold::LongThenRepeat
            ]
        );
        let knob: Keymap = toml::from_str(r#"x = { short = "box-volume-up" }"#).expect("parse");
        assert!(knob.repeats(Button::X));
        assert_eq!(knob.holds()[2], Hold::Repeat);
    }

    #[test]
    fn the_legend_follows_the_context() {
        let k = Keymap::default();
        let words = |ctx: &Context| -> Vec<(String, Option<String>)> {
            k.legend(ctx)
                .into_iter()
                .map(|r| (r.short, r.long))
                .collect()
        };
        let s = |w: &str| w.to_owned();
        let rest = [
            (s("SKIP"), Some(s("prev"))),
            (s("VOL+"), Some(s("all+"))),
            (s("VOL\u{2212}"), Some(s("all\u{2212}"))),
        ];
        let with = |a| [vec![a], rest.to_vec()].concat();
        assert_eq!(words(&IDLE), with((s("HOST"), None)));
        assert_eq!(words(&INVITED), with((s("JOIN"), None)));
        assert_eq!(words(&HOST), with((s(""), Some(s("end")))));
        assert_eq!(words(&MEMBER), with((s(""), Some(s("leave")))));
        let buttons: Vec<Button> = k.legend(&IDLE).iter().map(|r| r.button).collect();
        assert_eq!(buttons, Button::ALL.to_vec());
    }

    #[test]
    fn a_custom_mapping_round_trips_through_toml() {
        let text = r#"
            a = { short = "host", long = "end" }
            b = { short = "pause", long = "resume" }
            x = { short = "party-volume-up" }
            y = { short = "none", long = "join" }
        "#;
        let k: Keymap = toml::from_str(text).expect("parse");
        assert_eq!(k.a, Binding::new(Action::Host, Action::End));
        assert_eq!(k.b, Binding::new(Action::Pause, Action::Resume));
        assert_eq!(k.x, Binding::new(Action::PartyVolumeUp, Action::Nothing));
        assert_eq!(k.y, Binding::new(Action::Nothing, Action::Join));
        let again: Keymap = toml::from_str(&toml::to_string(&k).expect("write")).expect("parse");
        assert_eq!(again, k);
        assert_eq!(
            k.request(press(Button::X, PressKind::Repeat), &HOST),
            Some(Request::change_volume(VolumeTarget::Party, 5))
        );
    }

    #[test]
    fn left_out_buttons_keep_their_default_and_typos_are_refused() {
        let k: Keymap = toml::from_str(r#"b = { short = "pause" }"#).expect("parse");
        assert_eq!(k.a, Keymap::default().a);
        assert_eq!(k.b, Binding::new(Action::Pause, Action::Nothing));
        assert!(toml::from_str::<Keymap>(r#"z = { short = "skip" }"#).is_err());
        assert!(toml::from_str::<Keymap>(r#"a = { short = "sikp" }"#).is_err());
        assert!(toml::from_str::<Keymap>(r#"a = { shrot = "skip" }"#).is_err());
    }
}
