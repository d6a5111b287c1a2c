use connections::prelude::*;

struct Oops;

#[derive(Connection)]
struct Sqlite {
    base: BaseConnection<String>,
}

impl Sqlite {
    fn _connect(&self, _config: &Config) -> Result<String, Oops> {
        Err(Oops)
    }
}

fn main() {}
