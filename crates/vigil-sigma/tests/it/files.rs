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

/// A name is as unique as an id (a correlation names the rules it counts by either): a later
/// rule with a name taken, by another rule's name or id, is refused naming the first, whether
/// a correlation refers to it or not.
#[test]
fn each_name_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let named = |id: &str, name: &str, title: &str| {
        format!(
            "title: {title}\nid: {id}\nname: {name}\nlogsource: {{product: test}}\ndetection:\n  sel: {{F: x}}\n  condition: sel\n"
        )
    };
    std::fs::write(
        root.join("a.yml"),
        format!(
            "{}---\ntitle: Corr named dupe\nid: c2\nname: dupe\ncorrelation:\n  type: event_count\n  rules: [d1]\n  timespan: 10m\n  condition: {{gte: 1}}\n",
            named("d1", "dupe", "Det one")
        ),
    )
    .unwrap();
    std::fs::write(root.join("b.yml"), named("d2", "dupe", "Det two")).unwrap();
    std::fs::write(root.join("c.yml"), named("d3", "d1", "Named like an id")).unwrap();
    let (docs, diags) = vigil_sigma::load_dirs(std::slice::from_ref(&root)).unwrap();
    let titles: Vec<&str> = docs.iter().map(|d| d.meta().title.as_str()).collect();
    assert_eq!(titles, ["Det one"]);
    let found: Vec<(String, usize, &str, Option<&str>)> = diags
        .iter()
        .map(|d| {
            (
                d.file.file_name().unwrap().to_string_lossy().into_owned(),
                d.line,
                d.path.as_str(),
                d.rule.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("a.yml".into(), 9, "name", Some("c2")),
            ("b.yml".into(), 1, "name", Some("d2")),
            ("c.yml".into(), 1, "name", Some("d3")),
        ]
    );
    let a = root.join("a.yml");
    assert!(
        diags[0].message.contains(&format!(
            "the name 'dupe' is already the name of the rule at {}:1",
            a.display()
        )),
        "{}",
        diags[0].message
    );
    assert!(
        diags[2].message.contains(&format!(
            "the name 'd1' is already the id of the rule at {}:1",
            a.display()
        )),
        "{}",
        diags[2].message
    );
}
