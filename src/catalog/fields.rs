//! The documented field tables (feature `catalog-fields`): types, required marks, labels, enum values and
//! nesting of every request and response field. Kept out of the default build: they are most of the data.

use std::sync::OnceLock;

/// The generated field tables (see `scripts/catalog.py`), in the catalog's order.
const FIELDS: &str = include_str!("fields.tsv");

/// One documented field of a request or a response.
///
/// Nesting is by [`depth`](Field::depth): a field of depth n+1 belongs to the nearest field of depth n
/// before it. Read `required` as the documentation means it: relative to the parent (required only when
/// the parent is sent), and sometimes set on both of a pair of alternatives (`transaction_id` /
/// `out_trade_no`) where WeChat Pay wants one.
///
/// ```
/// let op = wechatpay::catalog::find("POST", "v3/apply4subject/applyment").unwrap();
/// let field = op.request_fields().iter().find(|f| f.name() == "ubo_id_doc_number").unwrap();
/// assert_eq!(field.path(), "json.ubo_info_list[].ubo_id_doc_number");
/// assert_eq!((field.ty(), field.depth(), field.is_encrypted()), ("string", 2, true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    name: &'static str,
    path: Box<str>,
    ty: &'static str,
    required: bool,
    depth: usize,
    label: &'static str,
    enum_values: Box<[&'static str]>,
    encrypted: bool,
}

impl Field {
    /// The field's own name: `number`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The dotted path from the top level: `json.payer.identity.number` for a request field (the top level
    /// is wechatpay-php's options), `payer.openid` for a response field. A field under an array carries `[]`
    /// after the array's name (`json.ubo_info_list[].ubo_id_doc_number`); the array field itself is plain
    /// (`json.ubo_info_list`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The documented type: `string`, `integer`, `number`, `boolean`, `object`, `object[]`, `string[]`, …
    /// (as written; `true` for the APIv2 `security` and `nonceless` flags).
    pub fn ty(&self) -> &'static str {
        self.ty
    }

    /// Whether the documentation marks it required (relative to its parent).
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The nesting level: 0 at the top.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The documentation's description, in Chinese: `商户号`.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The fixed values it takes, when the documentation lists them; empty otherwise.
    pub fn enum_values(&self) -> &[&'static str] {
        &self.enum_values
    }

    /// Whether its value must be RSA-OAEP encrypted under WeChat Pay's public key (a sensitive field).
    pub fn is_encrypted(&self) -> bool {
        self.encrypted
    }
}

/// The fields of one operation.
pub(super) struct Table {
    pub(super) request: Box<[Field]>,
    pub(super) response: Box<[Field]>,
}

/// One operation's fields, by its index in the catalog. Each operation's lines are parsed on its first
/// look-up, not the whole 1.4 MB at once: a command line that checks one call (`wxpay --dry-run`) reads
/// one section.
pub(super) fn table(index: usize) -> &'static Table {
    static SECTIONS: OnceLock<Vec<(&'static str, OnceLock<Table>)>> = OnceLock::new();
    let sections = SECTIONS.get_or_init(|| {
        let sections = sections(FIELDS);
        // Generated together, so a mismatch is a bug: fail loudly, never misattribute fields.
        assert_eq!(
            sections.len(),
            super::operations().len(),
            "fields.tsv and operations.tsv differ"
        );
        sections.into_iter().map(|text| (text, OnceLock::new())).collect()
    });
    let (text, table) = &sections[index];
    table.get_or_init(|| {
        let (method, template, table) = parse(text).pop().expect("a section holds one operation");
        let op = &super::operations()[index];
        assert_eq!(
            (method, template),
            (op.method(), op.template()),
            "fields.tsv is out of order"
        );
        table
    })
}

/// Splits `fields.tsv` into its operations' sections, each from its `=` line to the next.
fn sections(text: &'static str) -> Vec<&'static str> {
    let starts: Vec<usize> = (text.starts_with("=\t").then_some(0).into_iter())
        .chain(text.match_indices("\n=\t").map(|(at, _)| at + 1))
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| &text[start..starts.get(i + 1).copied().unwrap_or(text.len())])
        .collect()
}

/// Reads `fields.tsv`: an `=  method  template` line opens each operation; then a line a field, `>`
/// (request) or `<` (response), depth, name, type, flags (`r`, `e`), label, enum values joined by `|`.
fn parse(text: &'static str) -> Vec<(&'static str, &'static str, Table)> {
    let mut out = Vec::new();
    let mut current: Option<(&str, &str, Vec<Field>, Vec<Field>)> = None;
    // The path segments of the ancestors of the next field, by depth.
    let mut stack: Vec<String> = Vec::new();
    let finish = |current: Option<(&'static str, &'static str, Vec<Field>, Vec<Field>)>, out: &mut Vec<_>| {
        if let Some((method, template, request, response)) = current {
            let table = Table {
                request: Vec::into_boxed_slice(request),
                response: Vec::into_boxed_slice(response),
            };
            out.push((method, template, table));
        }
    };
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let mut columns = line.split('\t');
        let mut next = || columns.next().unwrap_or("");
        let mark = next();
        if mark == "=" {
            finish(current.take(), &mut out);
            current = Some((next(), next(), Vec::new(), Vec::new()));
            continue;
        }
        let (depth, name, ty, flags, label, values) = (next(), next(), next(), next(), next(), next());
        let depth: usize = depth
            .parse()
            .unwrap_or_else(|_| panic!("fields.tsv: a bad depth in {line:?}"));
        let (_, _, request, response) = current.as_mut().expect("fields.tsv starts with an operation");
        let fields = if mark == ">" { request } else { response };
        if fields.is_empty() {
            stack.clear();
        }
        assert!(depth <= stack.len(), "fields.tsv: {line:?} has no parent");
        stack.truncate(depth);
        let mut path = stack.join(".");
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
        stack.push(if ty.ends_with("[]") {
            format!("{name}[]")
        } else {
            name.to_owned()
        });
        fields.push(Field {
            name,
            path: path.into_boxed_str(),
            ty,
            required: flags.contains('r'),
            depth,
            label,
            enum_values: values.split('|').filter(|v| !v.is_empty()).collect(),
            encrypted: flags.contains('e'),
        });
    }
    finish(current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_the_nesting() {
        let text = "=\tPOST\tv3/x\n>\t0\tjson\tobject\tr\tbody\n>\t1\tlist\tobject[]\t\tl\n>\t2\tname\tstring\tre\tn\n\
                    >\t1\tkind\tstring\tr\tk\tA|B\n<\t0\tid\tstring\tr\ti\n";
        let tables = parse(text);
        let (method, template, table) = &tables[0];
        assert_eq!((*method, *template), ("POST", "v3/x"));
        let paths: Vec<&str> = table.request.iter().map(Field::path).collect();
        assert_eq!(paths, ["json", "json.list", "json.list[].name", "json.kind"]);
        assert!(table.request[2].is_encrypted() && !table.request[1].is_required());
        assert_eq!(table.request[3].enum_values(), ["A", "B"]);
        assert_eq!(table.response[0].path(), "id");
    }

    #[test]
    fn sections_split_at_each_operation() {
        let text = "# header\n=\tGET\tv3/a\n<\t0\tid\tstring\tr\ti\n=\tPOST\tv3/b\n";
        let split = sections(text);
        assert_eq!(split, ["=\tGET\tv3/a\n<\t0\tid\tstring\tr\ti\n", "=\tPOST\tv3/b\n"]);
        assert_eq!(parse(split[0])[0].2.response.len(), 1);
        assert_eq!(sections("=\tGET\tv3/a\n").len(), 1);
    }
}
