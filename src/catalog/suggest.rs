//! Paths as people write them ([`normalize_path`]) and the nearest documented templates to one that is not
//! documented ([`Index::nearest`]).

use std::collections::{HashMap, HashSet};

use super::trie::{segments, Segment};

/// A path as the catalog spells it: `v3/pay/transactions/native`.
///
/// - A path with `/` keeps its segments as written (as the chain does); a leading `/`, doubled `/`, a scheme
///   and host (`https://api.mch.weixin.qq.com/…`), a query (`?…`) or a fragment go; a trailing `/` stays (it
///   is `{empty}`).
/// - A PHP or Node chain — `$instance->v3->pay->transactions->native`, `wxpay.v3.pay.transactions.native`,
///   `v3.marketing.busifavor.coupons['use']` — becomes a path from its first `v2`/`v3` key on, each key read by
///   [`path::normalize_key`](crate::path::normalize_key) (`outTradeNo` → `out-trade-no`, `_out_trade_no_` →
///   `{out_trade_no}`); a trailing call (`->post(…)`, `.getAsync()`) goes.
///
/// ```
/// use wechatpay::catalog::normalize_path;
/// assert_eq!(normalize_path("v3->pay->transactions->native"), "v3/pay/transactions/native");
/// assert_eq!(normalize_path("wxpay.v3.pay.transactions.native.post({})"), "v3/pay/transactions/native");
/// assert_eq!(normalize_path("v3->pay->transactions->outTradeNo->_out_trade_no_"),
///     "v3/pay/transactions/out-trade-no/{out_trade_no}");
/// assert_eq!(normalize_path("/v3//pay/transactions/id/42?mchid=1"), "v3/pay/transactions/id/42");
/// assert_eq!(normalize_path("v3/ecommerce/applyments/"), "v3/ecommerce/applyments/");
/// ```
pub fn normalize_path(path: &str) -> String {
    let mut text = path.trim();
    if let Some(rest) = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://")) {
        text = rest.find('/').map_or("", |i| &rest[i..]);
    }
    let called = text.find('(');
    if let Some(i) = called {
        text = &text[..i];
    }
    if let Some(i) = text.find(['?', '#']) {
        text = &text[..i];
    }
    if text.contains('/') {
        let mut out = text.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/");
        if text.ends_with('/') && !out.is_empty() {
            out.push('/');
        }
        return out;
    }
    // A chain: `->` (PHP) or `.` (Node) between keys, or a key in brackets (`['use']`).
    let spaced = text.replace("->", "/").replace(['.', '[', ']', '\'', '"'], "/");
    let mut keys: Vec<&str> = spaced.split('/').filter(|s| !s.is_empty()).collect();
    // What precedes the version is the object the chain hangs on (`$instance`, `wxpay`).
    if let Some(start) = keys.iter().position(|k| *k == "v2" || *k == "v3") {
        keys.drain(..start);
    }
    if called.is_some() && keys.last().is_some_and(|k| is_verb(k)) {
        keys.pop();
    }
    keys.iter()
        .map(|k| crate::path::normalize_key(k))
        .collect::<Vec<_>>()
        .join("/")
}

/// `get`, `post`, `postAsync`, … : the chain's terminal calls.
fn is_verb(key: &str) -> bool {
    let verb = key.strip_suffix("Async").unwrap_or(key);
    ["get", "post", "put", "patch", "delete"].contains(&verb)
}

/// What an input segment costs against a placeholder: small, so a value fits a placeholder, but more than a
/// one-letter typo in a literal, so `coupon` goes to `coupons` before it goes to `{coupon_id}`.
const PLACEHOLDER: f32 = 0.3;
/// What a spelling that differs only in case, `-` or `_` costs: enough to rank the exact spelling first.
const RESPELLED: f32 = 0.05;

/// A segment of a documented template, for the distance.
#[derive(Debug, Clone, Copy)]
enum Seg {
    /// An index into [`Index::literals`].
    Literal(usize),
    Placeholder,
}

/// The distinct templates, their segments interned: a query compares each of its segments once with each
/// distinct literal, not once per template.
#[derive(Debug)]
pub(super) struct Index {
    /// Each distinct literal segment, with its comparable form.
    literals: Vec<(&'static str, Vec<char>)>,
    templates: Vec<(&'static str, Vec<Seg>)>,
}

/// How a segment compares: lowercase, without `-` or `_` (`outTradeNo` = `out-trade-no` = `out_trade_no`).
fn comparable(segment: &str) -> Vec<char> {
    segment
        .chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_placeholder(segment: &str) -> bool {
    segment.len() > 2 && segment.starts_with('{') && segment.ends_with('}')
}

/// Levenshtein distance over characters.
fn edits(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replaced = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

impl Index {
    /// Indexes `templates` (duplicates are kept once, first place first).
    pub(super) fn new(templates: impl IntoIterator<Item = &'static str>) -> Self {
        let mut interned: HashMap<&'static str, usize> = HashMap::new();
        let mut index = Index {
            literals: Vec::new(),
            templates: Vec::new(),
        };
        let mut seen = HashSet::new();
        for template in templates {
            if !seen.insert(template) {
                continue;
            }
            let segs = segments(template)
                .map(|segment| match segment {
                    // `{empty}` is the empty segment a trailing `/` leaves.
                    Segment::Literal(literal) => Seg::Literal(*interned.entry(literal).or_insert_with(|| {
                        index.literals.push((literal, comparable(literal)));
                        index.literals.len() - 1
                    })),
                    Segment::Var | Segment::Rest => Seg::Placeholder,
                })
                .collect();
            index.templates.push((template, segs));
        }
        index
    }

    /// The templates nearest to the (normalized) `path`, nearest first; ties go to the shorter template,
    /// then to the catalog's order. Only those that keep at least half of the segments.
    pub(super) fn nearest(&self, path: &str) -> Vec<&'static str> {
        let input: Vec<&str> = path.split('/').collect();
        // What each input segment costs against each literal (rows) and against a placeholder.
        let compared: Vec<Vec<f32>> = input
            .iter()
            .map(|segment| {
                let form = comparable(segment);
                self.literals
                    .iter()
                    .map(|(literal, other)| {
                        if segment == literal {
                            0.0
                        } else if is_placeholder(segment) || is_placeholder(literal) {
                            1.0
                        } else if form == *other {
                            RESPELLED
                        } else {
                            edits(&form, other) as f32 / form.len().max(other.len()).max(1) as f32
                        }
                    })
                    .collect()
            })
            .collect();
        let mut scored: Vec<(f32, usize)> = self
            .templates
            .iter()
            .enumerate()
            .filter_map(|(i, (_, segs))| {
                let distance = self.distance(&input, &compared, segs);
                let limit = input.len().max(segs.len()) as f32 / 2.0;
                (distance <= limit).then_some((distance, i))
            })
            .collect();
        scored.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then_with(|| self.templates[a.1].1.len().cmp(&self.templates[b.1].1.len()))
                .then(a.1.cmp(&b.1))
        });
        scored.into_iter().map(|(_, i)| self.templates[i].0).collect()
    }

    /// The edit distance over segments between the input and one template.
    fn distance(&self, input: &[&str], compared: &[Vec<f32>], template: &[Seg]) -> f32 {
        let mut row: Vec<f32> = (0..=template.len()).map(|j| j as f32).collect();
        for (i, segment) in input.iter().enumerate() {
            let mut diagonal = row[0];
            row[0] = (i + 1) as f32;
            for (j, seg) in template.iter().enumerate() {
                let cost = match seg {
                    Seg::Literal(l) => compared[i][*l],
                    Seg::Placeholder if is_placeholder(segment) => 0.0,
                    Seg::Placeholder if segment.is_empty() => 1.0,
                    Seg::Placeholder => PLACEHOLDER,
                };
                let replaced = diagonal + cost;
                diagonal = row[j + 1];
                row[j + 1] = replaced.min(row[j] + 1.0).min(row[j + 1] + 1.0);
            }
        }
        row[template.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_counts_characters() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edits(&c("coupon"), &c("coupons")), 1);
        assert_eq!(edits(&c("kitten"), &c("sitting")), 3);
        assert_eq!(edits(&c(""), &c("abc")), 3);
        assert_eq!(edits(&c("退款"), &c("退款单")), 1);
    }

    #[test]
    fn nearest_ranks_typos_spellings_and_placeholders() {
        let index = Index::new([
            "v3/marketing/busifavor/coupons/use",
            "v3/marketing/busifavor/coupons/return",
            "v3/marketing/busifavor/coupons/{coupon_code}",
            "v3/pay/transactions/out-trade-no/{out_trade_no}",
            "v3/pay/transactions/id/{transaction_id}",
        ]);
        let near = index.nearest("v3/marketing/busifavor/coupon/use");
        assert_eq!(near[0], "v3/marketing/busifavor/coupons/use");
        let near = index.nearest("v3/pay/transactions/outTradeNo/123");
        assert_eq!(near[0], "v3/pay/transactions/out-trade-no/{out_trade_no}");
        let near = index.nearest("v3/pay/transactions/id/{transaction_id}");
        assert_eq!(near[0], "v3/pay/transactions/id/{transaction_id}");
        assert!(index.nearest("a/b/c/d/e").is_empty());
    }

    #[test]
    fn verbs_are_calls() {
        assert!(is_verb("post") && is_verb("getAsync") && !is_verb("use"));
        assert_eq!(
            normalize_path("$instance->v3->pay->transactions->native->postAsync([])"),
            "v3/pay/transactions/native"
        );
        assert_eq!(
            normalize_path("v3.marketing.busifavor.coupons['use'].post"),
            "v3/marketing/busifavor/coupons/use/post"
        );
        assert_eq!(normalize_path(""), "");
        assert_eq!(normalize_path("/"), "");
        assert_eq!(normalize_path("https://api.mch.weixin.qq.com"), "");
    }
}
