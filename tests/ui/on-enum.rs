use connections_core::prelude::*;

#[derive(Connection)]
enum Sqlite {
    Open(BaseConnection<String>),
}

fn main() {}
