struct NotAConnection;

fn lookup() {
    let _ = connections_core::connection::<NotAConnection>("x");
}

fn main() {}
