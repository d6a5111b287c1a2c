struct NotAConnection;

fn lookup() {
    let _ = connections::connection::<NotAConnection>("x");
}

fn main() {}
