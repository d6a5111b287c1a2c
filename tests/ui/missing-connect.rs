use connections_core::prelude::*;

#[derive(Connection)]
struct Sqlite {
    base: BaseConnection<String>,
}

fn main() {}
