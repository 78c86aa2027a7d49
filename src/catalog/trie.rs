//! Concrete request paths matched against URI templates: a trie over path segments, so a lookup costs the
//! depth of the path, not the size of the catalog.

use std::collections::HashMap;

/// One segment of a template, as matching sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Segment<'t> {
    /// Text that must be there as written. wechatpay-php's `{empty}` is the empty literal: the empty last
    /// segment of a path that ends in `/`.
    Literal(&'t str),
    /// `{name}`: any one non-empty segment.
    Var,
    /// `{+name}`: one or more non-empty segments (its value may hold `/`).
    Rest,
}

/// The segments of a template. A segment that is not a whole `{…}` expression is literal text.
pub(super) fn segments(template: &str) -> impl Iterator<Item = Segment<'_>> {
    template
        .split('/')
        .map(|text| match text.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(crate::template::EMPTY) => Segment::Literal(""),
            Some(name) if name.starts_with('+') => Segment::Rest,
            Some(_) => Segment::Var,
            None => Segment::Literal(text),
        })
}

#[derive(Debug, Default)]
struct Node<'t> {
    literals: HashMap<&'t str, usize>,
    var: Option<usize>,
    rest: Option<usize>,
    /// The values of the templates that end here, in insertion order.
    values: Vec<usize>,
}

/// Templates by segment; each template carries values (here: operation indices).
#[derive(Debug)]
pub(super) struct Trie<'t> {
    nodes: Vec<Node<'t>>,
}

impl Default for Trie<'_> {
    fn default() -> Self {
        Trie {
            nodes: vec![Node::default()],
        }
    }
}

impl<'t> Trie<'t> {
    /// Adds `value` under `template`.
    pub(super) fn insert(&mut self, template: &'t str, value: usize) {
        let mut at = 0;
        for segment in segments(template) {
            let next = self.nodes.len();
            let node = &mut self.nodes[at];
            let slot = match segment {
                Segment::Literal(text) => node.literals.entry(text).or_insert(next),
                Segment::Var => node.var.get_or_insert(next),
                Segment::Rest => node.rest.get_or_insert(next),
            };
            at = *slot;
            if at == next {
                self.nodes.push(Node::default());
            }
        }
        self.nodes[at].values.push(value);
    }

    /// Calls `visit` with the values of every template that matches `path` (split at `/`), best first — a
    /// literal segment before a placeholder, at the first segment where they differ — until it returns
    /// true; returns whether one did.
    pub(super) fn walk(&self, path: &[&str], visit: &mut dyn FnMut(&[usize]) -> bool) -> bool {
        self.walk_from(0, path, visit)
    }

    fn walk_from(&self, at: usize, path: &[&str], visit: &mut dyn FnMut(&[usize]) -> bool) -> bool {
        let node = &self.nodes[at];
        let Some((first, rest)) = path.split_first() else {
            return !node.values.is_empty() && visit(&node.values);
        };
        if let Some(&next) = node.literals.get(first) {
            if self.walk_from(next, rest, visit) {
                return true;
            }
        }
        if first.is_empty() {
            // Only `{empty}` (a literal) takes an empty segment.
            return false;
        }
        if let Some(next) = node.var {
            if self.walk_from(next, rest, visit) {
                return true;
            }
        }
        if let Some(next) = node.rest {
            // The shortest value first; it never spans an empty segment.
            for taken in 1..=path.len() {
                if path[taken - 1].is_empty() {
                    break;
                }
                if self.walk_from(next, &path[taken..], visit) {
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trie(templates: &[&'static str]) -> Trie<'static> {
        let mut trie = Trie::default();
        for (i, t) in templates.iter().enumerate() {
            trie.insert(t, i);
        }
        trie
    }

    fn first(trie: &Trie, path: &str) -> Option<usize> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut found = None;
        trie.walk(&segments, &mut |values| {
            found = Some(values[0]);
            true
        });
        found
    }

    #[test]
    fn placeholders_take_one_segment_and_rest_takes_several() {
        let t = trie(&[
            "v3/users/{openid}",
            "v3/files/{+name}",
            "v3/files/{+name}/meta",
            "v3/applyments/{empty}",
        ]);
        assert_eq!(first(&t, "v3/users/o123"), Some(0));
        assert_eq!(first(&t, "v3/users/o123/x"), None);
        assert_eq!(first(&t, "v3/users/"), None, "a placeholder is never empty");
        assert_eq!(first(&t, "v3/files/a"), Some(1));
        assert_eq!(first(&t, "v3/files/a/b/c"), Some(1));
        assert_eq!(
            first(&t, "v3/files/a/b/meta"),
            Some(2),
            "the shortest value that lets the rest match"
        );
        assert_eq!(first(&t, "v3/files/"), None);
        assert_eq!(first(&t, "v3/applyments/"), Some(3));
        assert_eq!(first(&t, "v3/applyments"), None);
    }

    #[test]
    fn a_literal_beats_a_placeholder() {
        let t = trie(&[
            "v3/stocks/{stock_id}/use",
            "v3/stocks/batch/use",
            "v3/stocks/{stock_id}",
        ]);
        assert_eq!(first(&t, "v3/stocks/batch/use"), Some(1));
        assert_eq!(first(&t, "v3/stocks/9/use"), Some(0));
        assert_eq!(
            first(&t, "v3/stocks/batch"),
            Some(2),
            "back to the placeholder when the literal ends"
        );
    }

    #[test]
    fn segments_read_the_expressions() {
        let found: Vec<_> = segments("v3/{a}/{+b}/{empty}/x{y}").collect();
        assert_eq!(
            found,
            [
                Segment::Literal("v3"),
                Segment::Var,
                Segment::Rest,
                Segment::Literal(""),
                Segment::Literal("x{y}"),
            ]
        );
    }
}
