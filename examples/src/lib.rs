//! Runnable examples of the codeb SDK. The examples are the `[[example]]`
//! targets beside this crate (`cargo run -p codeb-examples --example NAME`);
//! this library is empty and exists only to give them a package.
