//! The examples of the user's guide (`docs/query.md`) are queries the parser accepts: the first
//! one of each row of its table, as a reader would copy it.

/// The cells of a Markdown table row, split at pipes that are not escaped (`\|` stands for a
/// pipe inside a cell, as GitHub renders it).
fn cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = row.trim().trim_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().unwrap().push('|');
            }
            '|' => cells.push(String::new()),
            _ => cells.last_mut().unwrap().push(c),
        }
    }
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

/// The first `code` span of a cell.
fn first_code(cell: &str) -> Option<&str> {
    let start = cell.find('`')? + 1;
    let len = cell[start..].find('`')?;
    Some(&cell[start..start + len])
}

#[test]
fn every_example_of_the_guide_parses() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/query.md");
    let guide = std::fs::read_to_string(&path).unwrap();
    let table = guide
        .split("## Examples")
        .nth(1)
        .expect("the guide has an Examples section");
    let mut parsed = 0;
    for row in table.lines().skip_while(|l| !l.starts_with('|')) {
        if !row.starts_with('|') {
            break;
        }
        let cells = cells(row);
        if cells[0] == "you want" || cells[0].starts_with("---") {
            continue;
        }
        let example = first_code(&cells[1]).unwrap_or_else(|| panic!("no example in {row}"));
        if let Err(e) = vigil_query::parse(example) {
            panic!("the guide's example {example:?} does not parse: {e}");
        }
        parsed += 1;
    }
    assert!(parsed >= 20, "only {parsed} examples found");
}
