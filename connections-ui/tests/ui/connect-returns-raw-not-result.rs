use connections::prelude::*;

#[derive(Connection)]
struct Counter {
    base: BaseConnection<u64>,
}

impl Counter {
    fn _connect(&self, _config: &Config) -> u64 {
        0
    }
}

fn main() {}
