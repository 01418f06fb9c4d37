//! Filling the HTML template.

use serde_json::Value;
use slicescope_core::{Error, Result};

const TEMPLATE: &str = include_str!("../assets/report.html");
const CSS: &str = include_str!("../assets/report.css");
const JS: &str = include_str!("../assets/report.js");

const COMPARE_TEMPLATE: &str = include_str!("../assets/compare.html");
const COMPARE_JS: &str = include_str!("../assets/compare.js");

const CSS_MARK: &str = "/*@CSS@*/";
const JS_MARK: &str = "/*@JS@*/";
const DATA_MARK: &str = "@DATA@";

/// The report page: the template with its CSS, JavaScript and `data`
/// inlined (see `docs/report.md`). The data's JSON has every `<` written
/// as `\u003c`, so nothing in it can close the script element it sits in.
pub fn html(data: &Value) -> Result<String> {
    let json = serde_json::to_string(data)
        .map_err(|e| Error::InvalidInput(format!("serialising the report data: {e}")))?
        .replace('<', "\\u003c");
    fill(TEMPLATE, CSS, JS, &json)
}

/// The comparison report page (`compare --report`): its own template and
/// script, the scan report's CSS, and `data` (from
/// [`crate::compare_report_data`]) inlined as in [`html`].
pub fn compare_html(data: &Value) -> Result<String> {
    let json = serde_json::to_string(data)
        .map_err(|e| Error::InvalidInput(format!("serialising the report data: {e}")))?
        .replace('<', "\\u003c");
    fill(COMPARE_TEMPLATE, CSS, COMPARE_JS, &json)
}

/// `template` with each mark replaced once. The marks are found in the
/// template only (never in what replaces them), so inlined text that
/// happens to contain a mark is left alone.
fn fill(template: &str, css: &str, js: &str, json: &str) -> Result<String> {
    let mut parts: Vec<(usize, &str, &str)> = Vec::new();
    for (mark, with) in [(CSS_MARK, css), (JS_MARK, js), (DATA_MARK, json)] {
        let mut found = template.match_indices(mark);
        let (Some((at, _)), None) = (found.next(), found.next()) else {
            return Err(Error::InvalidInput(format!(
                "internal: the report template must hold '{mark}' exactly once"
            )));
        };
        parts.push((at, mark, with));
    }
    parts.sort_by_key(|p| p.0);
    let mut out = String::with_capacity(template.len() + css.len() + js.len() + json.len());
    let mut pos = 0;
    for (at, mark, with) in parts {
        out.push_str(&template[pos..at]);
        out.push_str(with);
        pos = at + mark.len();
    }
    out.push_str(&template[pos..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_are_replaced_once_and_data_cannot_close_the_script() {
        let t = "<style>/*@CSS@*/</style><script>/*@JS@*/</script>\
                 <script type=\"application/json\">@DATA@</script>";
        let data = json!({"s": "</script><script>alert(1)</script> @DATA@ /*@JS@*/"});
        let json = serde_json::to_string(&data)
            .unwrap()
            .replace('<', "\\u003c");
        let out = fill(t, "a{}", "let x=1;", &json).unwrap();
        assert_eq!(out.matches("</script>").count(), 2, "{out}");
        assert!(out.contains("let x=1;"));
        assert!(out.contains("\\u003c/script>"));
        let back: Value = serde_json::from_str(
            out.split("application/json\">")
                .nth(1)
                .unwrap()
                .split("</script>")
                .next()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn the_shipped_template_is_complete_and_self_contained() {
        let page = html(&json!({"report_version": 1})).unwrap();
        for mark in [CSS_MARK, JS_MARK, DATA_MARK] {
            assert!(!page.contains(mark), "{mark} left in the page");
        }
        // XML namespace names are identifiers, not addresses that are fetched.
        let lower = page
            .to_ascii_lowercase()
            .replace("http://www.w3.org/2000/svg", "")
            .replace("http://www.w3.org/1999/xlink", "");
        for bad in [
            "http://",
            "https://",
            "src=\"//",
            "@import",
            "fetch(",
            "xmlhttprequest",
        ] {
            assert!(!lower.contains(bad), "the page refers to '{bad}'");
        }
        assert!(!JS.contains("</script"), "the script would end early");
        assert!(!CSS.contains("</style"), "the style would end early");
    }

    #[test]
    fn a_template_without_a_mark_is_refused() {
        assert!(fill("no marks", "", "", "{}").is_err());
        assert!(fill("/*@CSS@*/ /*@CSS@*/ /*@JS@*/ @DATA@", "", "", "{}").is_err());
    }
}
