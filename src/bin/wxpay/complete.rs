//! Shell completion: `wxpay completions SHELL` prints clap_complete's script, and for bash, zsh and fish
//! wraps it so that PATH arguments (of get, post, put, patch, delete and describe) complete to the documented
//! templates. The wrapper asks the binary itself, `wxpay __complete-path PREFIX -- WORDS…`, which reads the
//! command line with the same clap definition the parser uses and prints the matching templates, one a
//! line, only when the cursor is at a PATH argument (exit 1 otherwise: the wrapper then falls back to
//! clap's own completion).

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
            _ => return Err(Failure::other("not at a PATH argument")),
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
        compadd -- "${(@)paths:#}"
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
