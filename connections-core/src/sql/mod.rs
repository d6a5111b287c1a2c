//! SQLite, PostgreSQL and MySQL/MariaDB through sqlx's `Any` driver.

mod options;
mod transient;
mod value;

pub use value::{Table, Value};
