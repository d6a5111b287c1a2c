//! `type = "files"` on the local disk (a temporary folder) and in memory:
//! nothing to skip, on any machine.

use std::time::Duration;

use connections::files::FilesConnection;
use connections::{Error, Registry};
use serde::{Deserialize, Serialize};

use super::sql::runtime;

/// A registry with `[connections.<name>]` of type `files` and `section`'s keys.
pub(crate) fn registry_with(name: &str, section: &str) -> Registry {
    Registry::builder()
        .secrets_toml(
            "secrets.toml",
            format!("[connections.{name}]\ntype = 'files'\n{section}"),
        )
        .build()
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Pet {
    name: String,
    age: u32,
}

/// Rex, 3, and Tom, 5: the rows every format test writes.
fn pets() -> Vec<Pet> {
    ["Rex", "Tom"]
        .into_iter()
        .zip([3, 5])
        .map(|(name, age)| Pet { name: name.into(), age })
        .collect()
}

#[test]
fn bytes_text_and_json_round_trip_on_disk_and_in_memory() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let on_disk = format!("root = 'file://{}'", dir.path().display());
        for (name, section) in [("files_disk", on_disk.as_str()), ("files_memory", "url = 'memory://'")] {
            let registry = registry_with(name, section);
            let files = registry.connection::<FilesConnection>(name).unwrap();
            files.write("raw/blob.bin", vec![0_u8, 1, 2, 255]).await.unwrap();
            assert_eq!(&files.read("raw/blob.bin").bytes().await.unwrap()[..], [0, 1, 2, 255]);
            files.write("notes/hello.txt", "hello, files").await.unwrap();
            assert_eq!(files.read("notes/hello.txt").text().await.unwrap(), "hello, files");
            let pets = pets();
            files
                .write("pets.json", serde_json::to_vec(&pets).unwrap())
                .await
                .unwrap();
            assert_eq!(files.read("pets.json").json::<Vec<Pet>>().await.unwrap(), pets);
            assert_eq!(
                files.list("").await.unwrap(),
                ["notes/hello.txt", "pets.json", "raw/blob.bin"],
                "{name}"
            );
            assert_eq!(files.head("raw/blob.bin").await.unwrap().size, 4);
            assert!(registry.check().await.iter().all(|c| c.ok), "{name}");
        }
        // On disk, the files are where the root says.
        let written = std::fs::read_to_string(dir.path().join("notes/hello.txt")).unwrap();
        assert_eq!(written, "hello, files");
    });
}

#[test]
fn a_write_or_delete_through_the_connection_drops_the_cached_read_of_its_path() {
    runtime().block_on(async {
        let registry = registry_with("files_cache", "url = 'memory://'");
        let files = registry.connection::<FilesConnection>("files_cache").unwrap();
        let minute = Duration::from_mins(1);
        files.write("a.txt", "first").await.unwrap();
        files.write("b.txt", "other").await.unwrap();
        assert_eq!(files.read("a.txt").ttl(minute).text().await.unwrap(), "first");
        assert_eq!(files.read("b.txt").ttl(minute).text().await.unwrap(), "other");

        // Behind the connection's back, the cached read is served.
        let store = connections::Connection::instance(&*files).await.unwrap();
        let location = object_store::path::Path::from("b.txt");
        object_store::ObjectStoreExt::put(&**store.object_store().unwrap(), &location, "changed".into())
            .await
            .unwrap();
        assert_eq!(files.read("b.txt").ttl(minute).text().await.unwrap(), "other", "a hit");
        assert_eq!(
            files.read("b.txt").text().await.unwrap(),
            "changed",
            "without ttl, afresh"
        );

        // Through the connection: read, write, read again sees the write.
        files.write("a.txt", "second").await.unwrap();
        assert_eq!(files.read("a.txt").ttl(minute).text().await.unwrap(), "second");
        files.delete("a.txt").await.unwrap();
        let err = files.read("a.txt").ttl(minute).text().await.unwrap_err();
        assert!(err.to_string().contains("`a.txt` was not found under memory:"), "{err}");
    });
}

#[test]
fn paths_cannot_leave_the_root_and_a_missing_object_names_its_path() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
        let registry = registry_with("files_fence", &format!("url = 'file://{}'", root.display()));
        let files = registry.connection::<FilesConnection>("files_fence").unwrap();
        for path in [
            "../secret.txt",
            "a/../../secret.txt",
            "./x",
            "/etc/passwd",
            "file:///etc/passwd",
            "s3://bucket/key",
            "..%2Fsecret.txt",
            "%2e%2e/secret.txt",
            "a\\..\\secret.txt",
            "a//b",
            "",
        ] {
            let err = files.read(path).bytes().await.unwrap_err();
            println!("{path:?}: {err}");
            assert!(matches!(err, Error::InvalidCall { .. }), "{path}: {err}");
            let err = files.write(path, "x").await.unwrap_err();
            assert!(matches!(err, Error::InvalidCall { .. }), "{path}: {err}");
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join("secret.txt")).unwrap(),
            "outside"
        );

        let err = files.read("reports/2026.csv").bytes().await.unwrap_err();
        println!("{err}");
        let text = err.to_string();
        assert!(
            text.contains("`reports/2026.csv` was not found under file://"),
            "{text}"
        );
    });
}

#[test]
fn a_root_it_cannot_reach_is_an_error_before_any_read() {
    runtime().block_on(async {
        for (section, says) in [
            ("url = 'ftp://host/x'", "scheme `ftp`"),
            ("url = 'memory://'\nroot = 'memory://'", "keep one"),
            ("", "url"),
        ] {
            let registry = registry_with("files_bad", section);
            let files = registry.connection::<FilesConnection>("files_bad").unwrap();
            let err = files.read("x").bytes().await.unwrap_err();
            println!("{err}");
            assert!(err.to_string().contains(says), "{section}: {err}");
        }
    });
}

#[test]
fn csv_json_lines_and_records_by_extension_round_trip() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let registry = registry_with("files_formats", &format!("url = 'file://{}'", dir.path().display()));
        let files = registry.connection::<FilesConnection>("files_formats").unwrap();
        every_format_round_trips(&files).await;
    });
}

/// CSV, JSON and JSON lines written and read back on `files`'s store, as
/// rows of a struct, of maps and by extension; rows kept parsed by a `ttl`
/// and shared; the wrong format, a bad row and a bad line each an error.
pub(crate) async fn every_format_round_trips(files: &FilesConnection) {
    use std::collections::HashMap;
    let pets = pets();
    files.write("pets.csv", "name,age\nRex,3\nTom,5\n").await.unwrap();
    files
        .write(
            "pets.jsonl",
            "{\"name\":\"Rex\",\"age\":3}\n\n{\"name\":\"Tom\",\"age\":5}\n",
        )
        .await
        .unwrap();
    files
        .write("pets.json", serde_json::to_vec(&pets).unwrap())
        .await
        .unwrap();
    assert_eq!(*files.read("pets.csv").csv::<Pet>().await.unwrap(), pets);
    let rows = files.read("pets.csv").csv::<HashMap<String, String>>().await.unwrap();
    assert_eq!(rows[0]["name"], "Rex");
    assert_eq!(*files.read("pets.jsonl").json_lines::<Pet>().await.unwrap(), pets);
    for path in ["pets.csv", "pets.json", "pets.jsonl"] {
        assert_eq!(*files.read(path).records::<Pet>().await.unwrap(), pets, "{path}");
    }
    // With a ttl, the rows are kept parsed: a hit shares them, by type and format.
    let minute = Duration::from_mins(1);
    for path in ["pets.csv", "pets.json", "pets.jsonl"] {
        let first = files.read(path).ttl(minute).records::<Pet>().await.unwrap();
        let hit = files.read(path).ttl(minute).records::<Pet>().await.unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &hit), "{path}: no row cloned on a hit");
        let as_maps = files
            .read(path)
            .ttl(minute)
            .records::<serde_json::Value>()
            .await
            .unwrap();
        assert_eq!(as_maps.len(), 2, "{path}: another type reads afresh");
    }
    files.write("pets.csv", "name,age\nRex,3\n").await.unwrap();
    let after = files.read("pets.csv").ttl(minute).records::<Pet>().await.unwrap();
    assert_eq!(after.len(), 1, "a write drops the parsed rows too");
    files.write("notes.txt", "hi").await.unwrap();
    let err = files.read("notes.txt").records::<Pet>().await.unwrap_err();
    assert!(matches!(err, Error::InvalidCall { .. }), "{err}");
    files.write("bad.csv", "name,age\nRex,old\n").await.unwrap();
    let err = files.read("bad.csv").csv::<Pet>().await.unwrap_err();
    println!("{err}");
    assert!(err.to_string().contains("`bad.csv` is not the CSV"), "{err}");
    files
        .write("bad.jsonl", "{\"name\":\"Rex\",\"age\":3}\nnot json\n")
        .await
        .unwrap();
    let err = files.read("bad.jsonl").json_lines::<Pet>().await.unwrap_err();
    assert!(err.to_string().contains("JSON on line 2"), "{err}");
}

#[test]
fn copy_drops_the_targets_cached_read_and_open_streams_in_chunks() {
    use futures_util::TryStreamExt as _;
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let registry = registry_with("files_copy", &format!("url = 'file://{}'", dir.path().display()));
        let files = registry.connection::<FilesConnection>("files_copy").unwrap();
        let minute = Duration::from_mins(1);
        files.write("src.txt", "new").await.unwrap();
        files.write("dst.txt", "old").await.unwrap();
        assert_eq!(files.read("dst.txt").ttl(minute).text().await.unwrap(), "old");
        files.copy("src.txt", "dst.txt").await.unwrap();
        assert_eq!(files.read("dst.txt").ttl(minute).text().await.unwrap(), "new");
        let err = files.copy("missing.txt", "x.txt").await.unwrap_err();
        assert!(err.to_string().contains("`missing.txt` was not found"), "{err}");

        // 8 MiB through `open`: in chunks, none of them the whole object.
        let size = 8 * 1024 * 1024;
        files.write("big.bin", vec![42_u8; size]).await.unwrap();
        let mut chunks = files.open("big.bin").await.unwrap();
        let (mut total, mut largest, mut count) = (0, 0, 0);
        while let Some(chunk) = chunks.try_next().await.unwrap() {
            assert!(chunk.iter().all(|b| *b == 42));
            total += chunk.len();
            largest = largest.max(chunk.len());
            count += 1;
        }
        println!("open: {total} bytes in {count} chunks, the largest {largest}");
        assert_eq!(total, size);
        assert!(largest < size / 2, "streamed, not loaded whole: {largest}");
        let err = files.open("nope.bin").await.err().unwrap();
        assert!(err.to_string().contains("`nope.bin` was not found"), "{err}");
    });
}

#[test]
fn metrics_carry_the_files_type() {
    use metrics_util::debugging::DebugValue;
    let seen = super::health::recorded(|| {
        // One thread: the recorder is this thread's.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let registry = registry_with("files_metrics", "url = 'memory://'");
            let files = registry.connection::<FilesConnection>("files_metrics").unwrap();
            files.write("a.txt", "a").await.unwrap();
            assert!(registry.check().await.iter().all(|c| c.ok));
            connections::Connection::reset(&*files);
            files.read("a.txt").bytes().await.unwrap_err();
        });
    });
    let find = |name: &str, extra: (&str, &str)| seen.find(name, ("files_metrics", "files"), extra);
    assert_eq!(
        find("connections_connects_total", ("outcome", "ok")),
        &DebugValue::Counter(2)
    );
    assert_eq!(
        find("connections_checks_total", ("outcome", "ok")),
        &DebugValue::Counter(1)
    );
    assert_eq!(
        find("connections_resets_total", ("reason", "manual")),
        &DebugValue::Counter(1)
    );
}
