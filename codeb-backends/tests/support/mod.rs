//! Helpers shared by the HTTP backend tests.
#![allow(dead_code)] // each test binary uses a different part

pub mod scripted_server;
pub mod sshd;
