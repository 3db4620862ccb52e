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

/// The parts of a Sigma 1 rule collection inherit the id of its `action: global` document:
/// they are one rule written as several searches and all load under it, while another file
/// with that id is still refused.
#[test]
fn the_parts_of_a_collection_share_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::write(
        root.join("a.yml"),
        "action: global\ntitle: Remote service\nid: id-c\ndetection:\n  condition: sel\n---\n\
         logsource: {product: windows, service: security}\ndetection:\n  sel: {EventID: 4697}\n---\n\
         logsource: {product: windows, service: system}\ndetection:\n  sel: {EventID: 7045}\n",
    )
    .unwrap();
    std::fs::write(root.join("b.yml"), rule("id-c", "A copy")).unwrap();
    let (docs, diags) = vigil_sigma::load_dirs(std::slice::from_ref(&root)).unwrap();
    let loaded: Vec<(&str, Option<&str>, usize)> = docs
        .iter()
        .map(|d| {
            (
                d.meta().title.as_str(),
                d.meta().id.as_deref(),
                d.meta().line,
            )
        })
        .collect();
    assert_eq!(
        loaded,
        [
            ("Remote service", Some("id-c"), 7),
            ("Remote service", Some("id-c"), 11)
        ]
    );
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].file, root.join("b.yml"));
}
