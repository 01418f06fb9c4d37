//! The error type of slicescope's libraries.
//!
//! Every variant names what the user got wrong and, where possible, how to
//! fix it. The CLI maps all of them to exit code 2.

/// Result alias used throughout slicescope.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in slicescope's libraries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A column that the configuration names is not in the input.
    #[error("{role} column '{name}' not found{}", column_hint(.suggestions, .columns))]
    ColumnNotFound {
        /// The name that was asked for.
        name: String,
        /// What the column was wanted for ("label", "attribute", ...).
        role: String,
        /// Existing column names close to `name`.
        suggestions: Vec<String>,
        /// When no name is close: the input's columns (the message lists
        /// the first [`LISTED_COLUMNS`]).
        columns: Vec<String>,
    },
    /// Lengths or dimensions that must agree do not.
    #[error("shape mismatch: {0}")]
    ShapeMismatch(String),
    /// Values that cannot be used (NaN, infinite, out of range...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A parameter out of its valid range.
    #[error("invalid parameter '{name}': {reason}")]
    InvalidParameter {
        /// Parameter name as the user spells it.
        name: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// The input holds no rows (or none usable).
    #[error("no data: {0}")]
    NoData(String),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file concerned.
        path: String,
        /// What failed.
        message: String,
    },
    /// A file exists but its content is not what its format requires.
    #[error("{path}: cannot read as {format}: {message}")]
    Format {
        /// The file concerned.
        path: String,
        /// The format that was expected (Parquet, Arrow IPC, CSV, npy...).
        format: String,
        /// The reader's complaint.
        message: String,
    },
    /// The user interrupted the run.
    #[error("interrupted")]
    Interrupted,
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// [`Error::ColumnNotFound`] for `name`, wanted as `role`, among the
    /// input's column `names`: with the [`near_matches`], or the names
    /// themselves when none is close.
    pub fn column_not_found(name: &str, role: impl Into<String>, names: &[String]) -> Self {
        let suggestions = near_matches(name, names);
        let columns = if suggestions.is_empty() {
            names.to_vec()
        } else {
            Vec::new()
        };
        Error::ColumnNotFound {
            name: name.to_string(),
            role: role.into(),
            suggestions,
            columns,
        }
    }
}

/// At most this many of the input's columns are listed in a
/// [`Error::ColumnNotFound`] message.
pub const LISTED_COLUMNS: usize = 12;

fn quoted(names: &[String]) -> Vec<String> {
    names.iter().map(|s| format!("'{s}'")).collect()
}

fn column_hint(suggestions: &[String], columns: &[String]) -> String {
    if !suggestions.is_empty() {
        format!("; did you mean {}?", quoted(suggestions).join(" or "))
    } else if columns.is_empty() {
        String::new()
    } else {
        let shown = quoted(&columns[..columns.len().min(LISTED_COLUMNS)]).join(", ");
        let more = columns.len().saturating_sub(LISTED_COLUMNS);
        let noun = if columns.len() == 1 {
            "column"
        } else {
            "columns"
        };
        if more > 0 {
            format!(
                "; the input has {} {noun}: {shown} and {more} more",
                columns.len()
            )
        } else {
            format!("; the input has {} {noun}: {shown}", columns.len())
        }
    }
}

/// Return an error early when a condition does not hold.
///
/// `slicescope_ensure!(cond, expr)` returns `Err(expr.into())` when `cond`
/// is false.
#[macro_export]
macro_rules! slicescope_ensure {
    ($cond:expr, $err:expr) => {
        if !($cond) {
            return Err($err.into());
        }
    };
}

/// Names in `candidates` that are close to `name`: same name ignoring case
/// and punctuation, a prefix/substring match (of at least 3 characters),
/// or an edit distance of at most a third of the name's length. Best
/// matches first, at most three.
pub fn near_matches(name: &str, candidates: &[String]) -> Vec<String> {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(|c| c.to_lowercase())
            .collect()
    };
    let target = norm(name);
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter_map(|c| {
            let n = norm(c);
            if n == target {
                return Some((0, c));
            }
            // Containment counts when the shorter name is not a mere letter
            // or two: "a" is inside most names.
            let shorter = n.chars().count().min(target.chars().count());
            if shorter >= 3 && (n.contains(&target) || target.contains(&n)) {
                return Some((1, c));
            }
            let d = levenshtein(&n, &target);
            let limit = target.chars().count().max(3).div_ceil(3);
            (d <= limit).then_some((1 + d, c))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
}

/// Edit distance counting a swap of two neighbouring characters as one
/// edit (optimal string alignment), so "lable" is one edit from "label".
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, x) in d.iter_mut().enumerate().take(w) {
        *x = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_matches_finds_typos_and_case() {
        let cands: Vec<String> = ["Age", "education_num", "label", "pred_proba"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(near_matches("age", &cands), vec!["Age"]);
        assert_eq!(near_matches("educaton-num", &cands), vec!["education_num"]);
        assert_eq!(near_matches("pred", &cands), vec!["pred_proba"]);
        assert!(near_matches("zzzzzz", &cands).is_empty());
        assert_eq!(near_matches("lable", &cands), vec!["label"]);
        // One-letter columns are inside most names; they are no suggestion.
        let short: Vec<String> = ["a", "b", "label", "pr"].map(String::from).to_vec();
        assert_eq!(near_matches("lable", &short), vec!["label"]);
        assert_eq!(near_matches("pred", &short), vec!["pr"]);
    }

    #[test]
    fn column_not_found_message() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let e = Error::column_not_found("lable", "label", &names(&["label", "pred"]));
        assert_eq!(
            e.to_string(),
            "label column 'lable' not found; did you mean 'label'?"
        );
        // Nothing close: the input's columns are listed, up to 12.
        let e = Error::column_not_found("target", "label", &names(&["hello"]));
        assert_eq!(
            e.to_string(),
            "label column 'target' not found; the input has 1 column: 'hello'"
        );
        let many: Vec<String> = (0..15).map(|i| format!("x{i}")).collect();
        let e = Error::column_not_found("target", "label", &many).to_string();
        assert!(
            e.ends_with(
                "the input has 15 columns: 'x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', \
                 'x8', 'x9', 'x10', 'x11' and 3 more"
            ),
            "{e}"
        );
        let e = Error::column_not_found("target", "label", &[]);
        assert_eq!(e.to_string(), "label column 'target' not found");
    }
}
