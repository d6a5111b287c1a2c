use connections::prelude::*;

#[derive(Connection)]
union Sqlite {
    raw: u64,
}

fn main() {}
