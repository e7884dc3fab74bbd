//! ferric: the application — configuration, the command line, the conductor (locks, routing,
//! provision flows, periodic tasks, take-over), power-update events, and the wiring of every
//! crate into one member (`Server`). The only place concrete types of all crates meet.

pub mod backend;
pub mod bench;
pub mod cli;
pub mod clock;
pub mod conductor;
pub mod config;
pub mod events;
pub mod server;

pub use config::Config;
pub use server::Server;
