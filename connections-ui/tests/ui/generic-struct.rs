use connections::prelude::*;

#[derive(Connection)]
struct Sqlite<T> {
    base: BaseConnection<T>,
}

fn main() {}
