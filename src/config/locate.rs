//! Finds the line of a dotted key path in block-style YAML text, so that
//! problems found after layering still point at the line a user wrote.

/// One line of YAML reduced to what locating needs.
struct Line<'a> {
    number: usize,
    /// Column of the first key character (after any `- ` list markers).
    indent: usize,
    /// Whether the line starts a list item (`- ...`).
    item: bool,
    /// Column of the list marker when `item` is set.
    item_indent: usize,
    key: Option<&'a str>,
}

fn parse_lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(index, raw)| {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("---") {
                return None;
            }
            let item_indent = raw.len() - trimmed.len();
            let mut rest = trimmed;
            let mut indent = item_indent;
            let mut item = false;
            while let Some(after) = rest
                .strip_prefix("- ")
                .or_else(|| (rest == "-").then_some(""))
            {
                item = true;
                let stripped = after.trim_start();
                indent += rest.len() - stripped.len();
                rest = stripped;
            }
            let key = rest
                .split_once(':')
                .map(|(key, _)| key.trim().trim_matches(['"', '\'']))
                .filter(|key| !key.is_empty() && !key.contains(' ') || key.starts_with('$'));
            Some(Line {
                number: index + 1,
                indent,
                item,
                item_indent,
                key,
            })
        })
        .collect()
}

/// A path segment: a key, optionally followed by a list index (`models[2]`).
fn split_segment(segment: &str) -> (&str, Option<usize>) {
    match segment.split_once('[') {
        Some((key, rest)) => (key, rest.trim_end_matches(']').parse().ok()),
        None => (segment, None),
    }
}

/// The 1-based line where `path` (e.g. `lambda.memory_mb`, `models[1].provider`)
/// is written, or the deepest enclosing key that is, or `None` if no part is.
pub fn locate(text: &str, path: &str) -> Option<usize> {
    find(text, path).map(|(line, _)| line)
}

/// Whether the whole of `path` is written in `text`.
pub fn contains(text: &str, path: &str) -> bool {
    find(text, path).is_some_and(|(_, whole)| whole)
}

/// The line found for `path`, and whether it is the whole path or an enclosing key.
fn find(text: &str, path: &str) -> Option<(usize, bool)> {
    let lines = parse_lines(text);
    let mut range = 0..lines.len();
    let mut parent_indent: Option<usize> = None;
    let mut found: Option<usize> = None;

    for segment in path.split('.').filter(|segment| !segment.is_empty()) {
        let (key, index) = split_segment(segment);
        let Some(position) = range.clone().find(|&i| {
            let line = &lines[i];
            line.key == Some(key) && parent_indent.is_none_or(|parent| line.indent > parent)
        }) else {
            return found.map(|line| (line, false));
        };
        found = Some(lines[position].number);
        let own_indent = lines[position].indent;
        let end = (position + 1..range.end)
            .find(|&i| {
                lines[i].indent <= own_indent
                    && !(lines[i].item && lines[i].item_indent >= own_indent)
            })
            .unwrap_or(range.end);
        range = position + 1..end;
        parent_indent = Some(own_indent);

        if let Some(wanted) = index {
            let items: Vec<usize> = range.clone().filter(|&i| lines[i].item).collect();
            let Some(&item_start) = items.get(wanted) else {
                return found.map(|line| (line, false));
            };
            found = Some(lines[item_start].number);
            let item_end = items.get(wanted + 1).copied().unwrap_or(range.end);
            // Keys of the item sit at the indent of its first key.
            parent_indent = Some(lines[item_start].indent.saturating_sub(1));
            range = item_start..item_end;
        }
    }
    found.map(|line| (line, true))
}

#[cfg(test)]
mod tests {
    use super::{contains, locate};

    const TEXT: &str = "\
# comment
stack_name: x
lambda:
  memory_mb: 512
  timeout_seconds: 30
api:
  cors_origins:
    - http://a
  throttle_burst: 1
models:
  - name: A
    provider: openai
    model: a
  - name: B
    provider: bfl
    model: b
providers:
  openai:
    api_key: { ssm: /x }
model_count: 2
";

    #[test]
    fn finds_nested_and_listed_keys() {
        let cases = [
            ("stack_name", Some(2)),
            ("lambda", Some(3)),
            ("lambda.timeout_seconds", Some(5)),
            ("api.throttle_burst", Some(9)),
            ("models[0]", Some(11)),
            ("models[1].provider", Some(15)),
            ("models[1].model", Some(16)),
            ("models[0].name", Some(11)),
            ("providers.openai.api_key.ssm", Some(19)),
            ("model_count", Some(20)),
            ("lambda.unknown", Some(3)),
            ("missing", None),
        ];
        for (path, expected) in cases {
            assert_eq!(locate(TEXT, path), expected, "path {path}");
        }
    }

    #[test]
    fn tells_a_whole_path_from_an_enclosing_key() {
        assert!(contains(TEXT, "lambda.memory_mb"));
        assert!(contains(TEXT, "models[1].provider"));
        assert!(!contains(TEXT, "lambda.reserved_concurrency"));
        assert!(!contains(TEXT, "models[2]"));
    }

    #[test]
    fn does_not_match_a_key_of_another_parent() {
        let text = "a:\n  x: 1\nb:\n  y: 2\n";
        assert_eq!(locate(text, "b.x"), Some(3));
        assert_eq!(locate(text, "b.y"), Some(4));
    }
}
