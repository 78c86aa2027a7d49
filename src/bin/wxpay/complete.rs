//! Shell completion: `wxpay completions SHELL` prints clap_complete's script, and for bash, zsh and fish
//! wraps it so that PATH arguments (of get, post, put, patch, delete and describe) complete to the documented
//! templates. The wrapper asks the binary itself, `wxpay __complete-path PREFIX -- WORDS…`, which reads the
//! command line with the same clap definition the parser uses and prints the matching templates, one a
//! line, only when the cursor is at a PATH argument (exit 1 otherwise: the wrapper then falls back to
//! clap's own completion). At the value of `-p/--param` after a PATH, it prints the PATH's placeholders
//! not given yet, as `NAME=` (a `--param` value is never a file name, which is what clap would offer).

use clap::{Args, Command};
use clap_complete::Shell;
use wechatpay::catalog;

use crate::failure::Failure;
use crate::output;

/// The commands whose first positional argument is a PATH, and the method its templates must have.
const PATH_COMMANDS: [(&str, Option<&str>); 6] = [
    ("get", Some("GET")),
    ("post", Some("POST")),
    ("put", Some("PUT")),
    ("patch", Some("PATCH")),
    ("delete", Some("DELETE")),
    ("describe", None),
];

/// `wxpay __complete-path` (hidden: the completion scripts call it).
#[derive(Args)]
pub(crate) struct CompletePathArgs {
    /// What the PATH argument holds so far.
    #[arg(allow_hyphen_values = true)]
    prefix: String,
    /// The command line before it, from the command's own name on (the shell's words). When given, nothing
    /// is printed (and the exit code is 1) unless the cursor is at a PATH argument.
    #[arg(last = true)]
    words: Vec<String>,
}

pub(crate) fn complete_path(args: CompletePathArgs, cli: &Command) -> crate::CliResult {
    let method = if args.words.is_empty() {
        None
    } else {
        match path_position(cli, &args.words[1..]) {
            Some(method) if !args.prefix.starts_with('-') => method,
            _ => match param_position(cli, &args.words[1..]) {
                Some((path, given)) => return print_placeholders(&path, &given, &args.prefix),
                None => return Err(Failure::other("not at a PATH argument")),
            },
        }
    };
    let mut out = String::new();
    for template in templates(&args.prefix, method) {
        out.push_str(&template);
        out.push('\n');
    }
    output::print_bytes(out.as_bytes())
}

/// The documented templates (with `method`, when given) that start with `prefix`; a leading `/` is kept.
fn templates(prefix: &str, method: Option<&str>) -> Vec<String> {
    let (slash, bare) = match prefix.strip_prefix('/') {
        Some(rest) => ("/", rest),
        None => ("", prefix),
    };
    let mut found: Vec<String> = catalog::operations()
        .iter()
        .filter(|op| method.is_none_or(|m| op.method() == m))
        .map(|op| op.template())
        .filter(|t| t.starts_with(bare))
        .map(|t| format!("{slash}{t}"))
        .collect();
    found.dedup();
    found
}

/// Whether the next word of a command line whose words (after the program's name) are `words` is a PATH
/// argument: `Some(method)` (the method its command sends, `None` for `describe`) if so.
fn path_position(cli: &Command, words: &[String]) -> Option<Option<&'static str>> {
    let mut command = cli;
    let mut path_command: Option<Option<&'static str>> = None;
    let mut positionals = 0;
    let mut expect_value = false;
    let mut options_done = false;
    for word in words {
        if expect_value {
            expect_value = false;
            continue;
        }
        if !options_done && word == "--" {
            options_done = true;
            continue;
        }
        if !options_done && word.len() > 1 && word.starts_with('-') {
            expect_value = takes_separate_value(command, word);
            continue;
        }
        if path_command.is_none() {
            let sub = command.find_subcommand(word)?;
            let method = PATH_COMMANDS.iter().find(|(name, _)| *name == sub.get_name())?.1;
            command = sub;
            path_command = Some(method);
        } else {
            positionals += 1;
        }
    }
    path_command.filter(|_| positionals == 0 && !expect_value)
}

/// Whether the next word of a command line (`words`, after the program's name) is the value of a path
/// command's `-p/--param`, after its PATH: if so, the PATH and the placeholder names given so far.
fn param_position(cli: &Command, words: &[String]) -> Option<(String, Vec<String>)> {
    let mut command = cli;
    let mut in_path_command = false;
    let mut path = None;
    let mut given = Vec::new();
    let mut pending: Option<&str> = None; // the option whose value the current word is
    let mut options_done = false;
    for word in words {
        if let Some(option) = pending.take() {
            if option == "param" {
                given.extend(word.split_once('=').map(|(name, _)| name.trim().to_owned()));
            }
            continue;
        }
        if !options_done && word == "--" {
            options_done = true;
            continue;
        }
        if !options_done && word.len() > 1 && word.starts_with('-') {
            if let Some(value) = word.strip_prefix("--param=") {
                given.extend(value.split_once('=').map(|(name, _)| name.trim().to_owned()));
            } else if takes_separate_value(command, word) {
                pending = Some(if is_param_flag(command, word) { "param" } else { "other" });
            }
            continue;
        }
        if !in_path_command {
            let sub = command.find_subcommand(word)?;
            PATH_COMMANDS.iter().find(|(name, _)| *name == sub.get_name())?;
            command = sub;
            in_path_command = true;
        } else if path.is_none() {
            path = Some(unquote(word).to_owned());
        }
    }
    (pending == Some("param")).then_some(())?;
    path.map(|path| (path, given))
}

/// Whether `word` is `--param`, or a cluster of short flags ending in `-p` (`-p`, `-ip`).
fn is_param_flag(command: &Command, word: &str) -> bool {
    let param = command.get_arguments().find(|a| a.get_long() == Some("param"));
    match (word.strip_prefix("--"), param.and_then(|a| a.get_short())) {
        (Some(long), _) => long == "param",
        (None, Some(short)) => word.ends_with(short),
        (None, None) => false,
    }
}

/// A word as the shell passed it, its surrounding quotes removed (`'v3/…/{id}'`).
fn unquote(word: &str) -> &str {
    for quote in ['\'', '"'] {
        if let Some(inner) = word.strip_prefix(quote).and_then(|w| w.strip_suffix(quote)) {
            return inner;
        }
    }
    word
}

/// The placeholders of `path` (a template, a concrete path or a chain spelling) not in `given` and
/// starting with `prefix`, as `NAME=`, one a line.
fn print_placeholders(path: &str, given: &[String], prefix: &str) -> crate::CliResult {
    let template = if crate::call::is_chain_spelling(path) {
        catalog::normalize_path(path)
    } else {
        wechatpay::path::append("", path)
    };
    let names = wechatpay::template::placeholders(&template).unwrap_or_default();
    let mut out = String::new();
    for p in names {
        if p.name != wechatpay::template::EMPTY && !given.iter().any(|g| *g == p.name) && p.name.starts_with(prefix) {
            out.push_str(&format!("{}=\n", p.name));
        }
    }
    output::print_bytes(out.as_bytes())
}

/// Whether the option `word` (`--name`, `--name=value`, `-x`, `-xVALUE`, `-abc`) takes its value from the
/// next word.
fn takes_separate_value(command: &Command, word: &str) -> bool {
    if let Some(long) = word.strip_prefix("--") {
        if long.contains('=') {
            return false;
        }
        return command
            .get_arguments()
            .find(|a| a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|all| all.contains(&long)))
            .is_some_and(|a| a.get_action().takes_values());
    }
    let shorts: Vec<char> = word[1..].chars().collect();
    for (i, c) in shorts.iter().enumerate() {
        let arg = command
            .get_arguments()
            .find(|a| a.get_short() == Some(*c) || a.get_all_short_aliases().is_some_and(|all| all.contains(c)));
        if arg.is_some_and(|a| a.get_action().takes_values()) {
            // `-pNAME=V` holds its value; `-p` takes the next word.
            return i + 1 == shorts.len();
        }
    }
    false
}

/// `wxpay completions SHELL`: clap_complete's script, wrapped for PATH arguments where the shell allows.
pub(crate) fn script(shell: Shell, cli: &mut Command) -> crate::CliResult {
    let mut generated = Vec::new();
    clap_complete::generate(shell, cli, "wxpay", &mut generated);
    let generated = String::from_utf8_lossy(&generated).into_owned();
    let script = match shell {
        Shell::Bash => wrap_function(&generated, BASH_PATHS, None),
        Shell::Zsh => wrap_function(
            &generated,
            ZSH_PATHS,
            Some("if [ \"$funcstack[1]\" = \"_wxpay\" ]; then"),
        ),
        Shell::Fish => format!("{generated}{FISH_PATHS}"),
        _ => generated,
    };
    output::print_bytes(script.as_bytes())
}

/// Renames clap's `_wxpay` to `_wxpay_clap` and puts `wrapper` (a new `_wxpay` that calls it) before the
/// line that starts with `before` (where the script runs or registers `_wxpay`), or at the end. Unchanged
/// if clap's script is not shaped so.
fn wrap_function(generated: &str, wrapper: &str, before: Option<&str>) -> String {
    let definition = "_wxpay() {\n";
    let def = if generated.starts_with(definition) {
        Some(0)
    } else {
        generated.find(&format!("\n{definition}")).map(|i| i + 1)
    };
    let at = match before {
        Some(before) => generated.rfind(&format!("\n{before}")).map(|i| i + 1),
        None => Some(generated.len()),
    };
    match (def, at) {
        (Some(def), Some(at)) if def < at => format!(
            "{}_wxpay_clap() {{\n{}\n{wrapper}{}",
            &generated[..def],
            &generated[def + definition.len()..at],
            &generated[at..]
        ),
        _ => generated.to_owned(),
    }
}

/// The bash wrapper: `_wxpay` (clap's is `_wxpay_clap`).
const BASH_PATHS: &str = r#"# PATH arguments (get, post, put, patch, delete, describe) complete to the documented templates: the
# binary itself says which (`wxpay __complete-path PREFIX -- WORDS…`, exit 1 when not at a PATH).
_wxpay() {
    local cur="${COMP_WORDS[COMP_CWORD]}" bin="${COMP_WORDS[0]/#\~/$HOME}" found
    if found="$("$bin" __complete-path "$cur" -- "${COMP_WORDS[@]:0:COMP_CWORD}" 2>/dev/null)"; then
        local IFS=$'\n'
        COMPREPLY=($found)
        # `NAME=` (a --param's placeholder) is followed by its value, not a space.
        [[ ${COMPREPLY[0]-} == *= ]] && compopt -o nospace 2>/dev/null
        return 0
    fi
    _wxpay_clap "$@"
}
"#;

/// The zsh wrapper: `_wxpay` (clap's is `_wxpay_clap`).
const ZSH_PATHS: &str = r#"# PATH arguments (get, post, put, patch, delete, describe) complete to the documented templates: the
# binary itself says which (`wxpay __complete-path PREFIX -- WORDS…`, exit 1 when not at a PATH).
_wxpay() {
    local bin="${words[1]/#\~/$HOME}" found
    if found="$("$bin" __complete-path "$PREFIX" -- "${(@)words[1,CURRENT-1]}" 2>/dev/null)"; then
        local -a paths
        paths=("${(@f)found}")
        if [[ ${paths[1]-} == *= ]]; then
            compadd -S '' -- "${(@)paths:#}"   # `NAME=` (a --param's placeholder): its value follows
        else
            compadd -- "${(@)paths:#}"
        fi
        return 0
    fi
    _wxpay_clap "$@"
}

"#;

/// The fish addition: one more completion, at PATH arguments.
const FISH_PATHS: &str = r#"
# PATH arguments (get, post, put, patch, delete, describe) complete to the documented templates: the
# binary itself says which (`wxpay __complete-path PREFIX -- WORDS…`, exit 1 when not at a PATH).
function __fish_wxpay_paths
    set -l words (commandline -opc)
    $words[1] __complete-path (commandline -ct) -- $words 2>/dev/null
end
complete -c wxpay -n '__fish_wxpay_paths >/dev/null' -f -a '(__fish_wxpay_paths)'
"#;

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn at(line: &str) -> Option<Option<&'static str>> {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        path_position(&crate::Cli::command(), &words)
    }

    #[test]
    fn finds_the_path_argument() {
        assert_eq!(at("get"), Some(Some("GET")));
        assert_eq!(at("describe"), Some(None));
        assert_eq!(at("--config x.json -v post"), Some(Some("POST")));
        assert_eq!(at("post --json {} -q a=1 -H x:y"), Some(Some("POST")));
        assert_eq!(at("post --json={}"), Some(Some("POST")));
        assert_eq!(at("post -iq a=1"), Some(Some("POST")));
        assert_eq!(at("post -qa=1"), Some(Some("POST")));
        assert_eq!(at("post --json"), None); // its value comes next
        assert_eq!(at("post v3/pay/transactions/native"), None);
        assert_eq!(at("describe -X"), None);
        assert_eq!(at(""), None);
        assert_eq!(at("--config"), None);
        assert_eq!(at("config show"), None);
        assert_eq!(at("mock serve"), None);
        assert_eq!(at("nonsense"), None);
    }

    fn param_at(line: &str) -> Option<(String, Vec<String>)> {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        param_position(&crate::Cli::command(), &words)
    }

    #[test]
    fn finds_a_param_value_after_the_path() {
        let path = "v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close".to_owned();
        assert_eq!(
            param_at("post 'v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close' -p"),
            Some((path.clone(), vec![]))
        );
        assert_eq!(
            param_at("--config c.json post -i v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close --param"),
            Some((path.clone(), vec![]))
        );
        assert_eq!(
            param_at("get v3/x/{a}/{b} -p a=1 --param=c=2 -ip"),
            Some(("v3/x/{a}/{b}".to_owned(), vec!["a".to_owned(), "c".to_owned()]))
        );
        assert_eq!(param_at("get v3/x/{a} -q"), None);
        assert_eq!(param_at("get -p"), None); // no PATH yet
        assert_eq!(param_at("get v3/x/{a} -p a=1"), None); // past the value
        assert_eq!(param_at("config show -p"), None);
    }

    #[test]
    fn templates_match_a_prefix_and_a_method() {
        let found = templates("v3/pay/transactions/", Some("GET"));
        assert!(found.contains(&"v3/pay/transactions/id/{transaction_id}".to_owned()));
        assert!(!found.contains(&"v3/pay/transactions/native".to_owned()));
        assert_eq!(
            templates("/v3/pay/transactions/nat", None),
            ["/v3/pay/transactions/native"]
        );
    }
}
