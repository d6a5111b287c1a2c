//! Compile-fail tests: every mistake a user can make with the derive is a
//! compile error that points at their code and says what to write.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
