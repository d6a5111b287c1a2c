use connections::prelude::*;
use std::cell::Cell;

#[derive(Connection)]
struct Counter {
    base: BaseConnection<Cell<u64>>,
}

impl Counter {
    fn _connect(&self, _config: &Config) -> Result<Cell<u64>, BoxError> {
        Ok(Cell::new(0))
    }
}

fn main() {}
