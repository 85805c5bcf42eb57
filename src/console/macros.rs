//! The console's two declarations: [`page!`] (a page struct's template and
//! navigation entry) and [`from_row!`] (a row type decoded once from its
//! columns).

/// Declares the template and navigation entry of page structs.
macro_rules! page {
    ($($page:ty => $template:literal, $nav:literal;)*) => {
        $(impl $crate::console::pages::Page for $page {
            const TEMPLATE: &'static str = $template;
            fn nav(&self) -> &str {
                $nav
            }
        })*
    };
}

/// Decodes a struct from a row, each field from the column of its name (or
/// the one named after `=`), passed through the function after `=>` if any:
/// `from_row!(Mail { id, from = "from_address", received_at => time })`.
macro_rules! from_row {
    ($ty:ident { $($field:ident $(= $column:literal)? $(=> $map:expr)?),* $(,)? }) => {
        impl TryFrom<&tokio_postgres::Row> for $ty {
            type Error = tokio_postgres::Error;
            fn try_from(r: &tokio_postgres::Row) -> Result<Self, Self::Error> {
                Ok($ty {
                    $($field: from_row!(@map $($map)?, r.try_get(from_row!(@column $field $($column)?))?),)*
                })
            }
        }
    };
    (@column $field:ident) => { stringify!($field) };
    (@column $field:ident $column:literal) => { $column };
    (@map , $value:expr) => { $value };
    (@map $map:expr, $value:expr) => { ($map)($value) };
}
