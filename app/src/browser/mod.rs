//! The browser's own APIs the page and the workers use, each wrapped so that every failure reads
//! as a message a visitor can act on.

pub mod audio;
pub mod cache;
