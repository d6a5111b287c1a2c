use connections::prelude::*;

#[derive(Connection)]
struct Sqlite {
    base: BaseConnection<String>,
}

fn main() {}
