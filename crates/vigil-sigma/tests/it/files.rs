//! Rule folders as given on the command line: a file reached twice is loaded once, and an id
//! taken by an earlier rule refuses the later one.

fn rule(id: &str, title: &str) -> String {
    format!(
        "title: {title}\nid: {id}\nlogsource: {{product: test}}\ndetection:\n  sel: {{F: x}}\n  condition: sel\n"
    )
}

#[test]
fn each_file_once_and_each_id_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("a.yml"), rule("id-a", "A")).unwrap();
    std::fs::write(root.join("sub/b.yml"), rule("id-b", "B")).unwrap();
    std::fs::write(root.join("sub/c.yml"), rule("id-a", "C, a copy of A")).unwrap();
    // The folder, and a folder inside it: b.yml is under both.
    let (docs, diags) = vigil_sigma::load_dirs(&[root.clone(), root.join("sub")]).unwrap();
    let titles: Vec<&str> = docs.iter().map(|d| d.meta().title.as_str()).collect();
    assert_eq!(titles, ["A", "B"]);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d.file, root.join("sub/c.yml"));
    assert_eq!((d.path.as_str(), d.rule.as_deref()), ("id", Some("id-a")));
    assert!(d.message.contains("a.yml"), "{}", d.message);
}
