//! Did-you-mean for a mistyped command (`wxpay gte`).
//!
//! clap suggests the subcommands whose Jaro similarity to the word exceeds 0.7, and Jaro only matches
//! letters within a window of half the longer word, less one: for three letters that is none, so `gte`
//! has one letter in common with `get` (similarity 0.56) and gets no tip. Swapped, missing or extra
//! letters are the typos short commands get, so when clap has nothing to offer, the commands one
//! optimal-string-alignment edit away (two for names longer than four letters) are offered instead.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Command;

/// `error` with a tip added when it is an unknown subcommand clap found nothing similar to; `cli` is
/// the whole command and `args` the command line (program name first), to find which level it was at.
pub(crate) fn did_you_mean(mut error: clap::Error, cli: &Command, args: &[String]) -> clap::Error {
    if error.kind() != ErrorKind::InvalidSubcommand {
        return error;
    }
    let already = match error.get(ContextKind::SuggestedSubcommand) {
        Some(ContextValue::Strings(list)) => !list.is_empty(),
        Some(_) => true,
        None => false,
    };
    let typed = match error.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(typed)) => typed.clone(),
        _ => return error,
    };
    if already {
        return error;
    }
    let level = level_of(cli, args, &typed);
    let names: Vec<&str> = level
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .flat_map(|sub| std::iter::once(sub.get_name()).chain(sub.get_visible_aliases()))
        .collect();
    let near = nearest(&typed, &names);
    if !near.is_empty() {
        error.insert(ContextKind::SuggestedSubcommand, ContextValue::Strings(near));
    }
    error
}

/// The (sub)command whose subcommands `typed` was meant to be one of: the deepest one the words before it
/// name.
fn level_of<'a>(cli: &'a Command, args: &[String], typed: &str) -> &'a Command {
    let mut level = cli;
    for word in args.iter().skip(1) {
        if word == typed {
            break;
        }
        if let Some(sub) = level.find_subcommand(word) {
            level = sub;
        }
    }
    level
}

/// The names closest to `typed`, within one edit (two for names longer than four letters).
fn nearest(typed: &str, names: &[&str]) -> Vec<String> {
    let typed: Vec<char> = typed.chars().collect();
    let scored: Vec<(usize, &str)> = names
        .iter()
        .map(|name| (osa_distance(&typed, &name.chars().collect::<Vec<_>>()), *name))
        .filter(|(distance, name)| *distance <= if name.chars().count() > 4 { 2 } else { 1 })
        .collect();
    let best = scored.iter().map(|(distance, _)| *distance).min();
    scored
        .into_iter()
        .filter(|(distance, _)| Some(*distance) == best)
        .map(|(_, name)| name.to_owned())
        .collect()
}

/// Optimal string alignment distance: Levenshtein, with a swap of two neighbouring letters as one edit.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn near_names_within_an_edit() {
        let names = ["get", "post", "put", "patch", "delete", "describe", "config"];
        assert_eq!(nearest("gte", &names), ["get"]);
        assert_eq!(nearest("pots", &names), ["post"]);
        assert_eq!(nearest("pu", &names), ["put"]);
        assert_eq!(nearest("desribe", &names), ["describe"]);
        assert!(nearest("frobnicate", &names).is_empty());
        assert!(nearest("gxx", &names).is_empty());
    }

    #[test]
    fn suggests_at_the_level_typed() {
        let cli = crate::Cli::command();
        let args = |line: &str| line.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(level_of(&cli, &args("wxpay gte"), "gte").get_name(), "wxpay");
        assert_eq!(level_of(&cli, &args("wxpay config shwo"), "shwo").get_name(), "config");
        let error = crate::Cli::command()
            .try_get_matches_from(args("wxpay gte"))
            .unwrap_err();
        assert!(!error.to_string().contains("'get'"), "clap suggests it now: {error}");
        let error = did_you_mean(error, &cli, &args("wxpay gte"));
        assert!(
            error.to_string().contains("a similar subcommand exists: 'get'"),
            "{error}"
        );
        let error = crate::Cli::command()
            .try_get_matches_from(args("wxpay mock srve"))
            .unwrap_err();
        let error = did_you_mean(error, &cli, &args("wxpay mock srve"));
        assert!(error.to_string().contains("'serve'"), "{error}");
    }
}
