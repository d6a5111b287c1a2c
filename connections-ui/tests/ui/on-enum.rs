use connections::prelude::*;

#[derive(Connection)]
enum Sqlite {
    Open(BaseConnection<String>),
}

fn main() {}
