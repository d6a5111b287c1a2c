use connections::{BaseConnection, Connection};

#[derive(Connection)]
#[connection(async)]
struct Pg {
    base: BaseConnection<String>,
}

fn main() {}
