//! How the runner reaches a case's card: the [`transport::Transport`] and [`backend::Backend`]
//! traits, the in-process reader model behind them, the real PC/SC stack (pcscd + vpcd, with the
//! `pcsc` feature), any PC/SC reader with the card on it (device.rs) and the vpcd link that puts a virtual card on a vpcd slot.

pub mod backend;
#[cfg(feature = "pcsc")]
pub mod device;
#[cfg(feature = "pcsc")]
pub mod pcsc;
#[cfg(feature = "pcsc")]
pub mod presence;
pub mod transport;
pub mod vpcd;
