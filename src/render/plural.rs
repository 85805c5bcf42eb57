//! gettext `Plural-Forms` expressions (`n != 1`, `n==1 ? 0 : n%10>=2 && … ? 1 : 2`):
//! parsed once per catalog, evaluated per `ngettext` call.

/// A parsed plural expression over `n`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    N,
    Num(u64),
    Not(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

/// A `Plural-Forms` header that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid plural expression {expr:?}: {reason}")]
pub struct PluralError {
    pub expr: String,
    #[source]
    pub reason: Syntax,
}

/// What is wrong in a plural expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Syntax {
    #[error("number too large")]
    NumberTooLarge,
    #[error("unexpected character {0:?}")]
    Character(char),
    #[error("expected ':' in conditional")]
    NoColon,
    #[error("expected ')'")]
    NoParen,
    #[error("unexpected {0}")]
    Unexpected(String),
    #[error("unexpected end of expression")]
    End,
}

impl Expr {
    /// Parses the `plural=` expression of a Plural-Forms header.
    pub fn parse(text: &str) -> Result<Self, PluralError> {
        let tokens = tokenize(text).map_err(|reason| PluralError {
            expr: text.to_owned(),
            reason,
        })?;
        let mut parser = Parser { tokens, pos: 0 };
        let expr = parser.ternary();
        match expr {
            Ok(e) if parser.pos == parser.tokens.len() => Ok(e),
            Ok(_) => Err(PluralError {
                expr: text.to_owned(),
                reason: Syntax::Unexpected(format!("{:?}", parser.tokens[parser.pos])),
            }),
            Err(reason) => Err(PluralError {
                expr: text.to_owned(),
                reason,
            }),
        }
    }

    /// The plural form index for `n`.
    pub fn eval(&self, n: u64) -> u64 {
        match self {
            Expr::N => n,
            Expr::Num(v) => *v,
            Expr::Not(e) => u64::from(e.eval(n) == 0),
            Expr::Ternary(c, a, b) => {
                if c.eval(n) != 0 {
                    a.eval(n)
                } else {
                    b.eval(n)
                }
            }
            Expr::Binary(op, a, b) => {
                let (x, y) = (a.eval(n), b.eval(n));
                match op {
                    Op::Or => u64::from(x != 0 || y != 0),
                    Op::And => u64::from(x != 0 && y != 0),
                    Op::Eq => u64::from(x == y),
                    Op::Ne => u64::from(x != y),
                    Op::Lt => u64::from(x < y),
                    Op::Le => u64::from(x <= y),
                    Op::Gt => u64::from(x > y),
                    Op::Ge => u64::from(x >= y),
                    Op::Add => x.wrapping_add(y),
                    Op::Sub => x.wrapping_sub(y),
                    Op::Mul => x.wrapping_mul(y),
                    Op::Div => x.checked_div(y).unwrap_or(0),
                    Op::Rem => x.checked_rem(y).unwrap_or(0),
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    N,
    Num(u64),
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, Syntax> {
    const OPS: [&str; 19] = [
        "||", "&&", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "!", "?", ":", "(",
        ")", ";",
    ];
    let mut tokens = Vec::new();
    let mut rest = text.trim();
    while let Some(c) = rest.chars().next() {
        if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else if c == 'n' {
            tokens.push(Token::N);
            rest = &rest[1..];
        } else if c.is_ascii_digit() {
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            tokens.push(Token::Num(
                rest[..end].parse().map_err(|_| Syntax::NumberTooLarge)?,
            ));
            rest = &rest[end..];
        } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            rest = &rest[op.len()..];
            if *op == ";" {
                break;
            }
            tokens.push(Token::Op(op));
        } else {
            return Err(Syntax::Character(c));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

/// Binary operators by precedence level, loosest first.
const LEVELS: [&[(&str, Op)]; 6] = [
    &[("||", Op::Or)],
    &[("&&", Op::And)],
    &[("==", Op::Eq), ("!=", Op::Ne)],
    &[("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)],
    &[("+", Op::Add), ("-", Op::Sub)],
    &[("*", Op::Mul), ("/", Op::Div), ("%", Op::Rem)],
];

impl Parser {
    fn eat(&mut self, op: &'static str) -> bool {
        if self.tokens.get(self.pos) == Some(&Token::Op(op)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn ternary(&mut self) -> Result<Expr, Syntax> {
        let cond = self.binary(0)?;
        if !self.eat("?") {
            return Ok(cond);
        }
        let yes = self.ternary()?;
        if !self.eat(":") {
            return Err(Syntax::NoColon);
        }
        let no = self.ternary()?;
        Ok(Expr::Ternary(Box::new(cond), Box::new(yes), Box::new(no)))
    }

    fn binary(&mut self, level: usize) -> Result<Expr, Syntax> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        'outer: loop {
            for (text, op) in LEVELS[level] {
                if self.eat(text) {
                    let right = self.binary(level + 1)?;
                    left = Expr::Binary(*op, Box::new(left), Box::new(right));
                    continue 'outer;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Expr, Syntax> {
        if self.eat("!") {
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.ternary()?;
            if !self.eat(")") {
                return Err(Syntax::NoParen);
            }
            return Ok(inner);
        }
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        match token {
            Some(Token::N) => Ok(Expr::N),
            Some(Token::Num(v)) => Ok(Expr::Num(v)),
            Some(other) => Err(Syntax::Unexpected(format!("{other:?}"))),
            None => Err(Syntax::End),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Expr;

    fn forms(expr: &str, ns: &[u64]) -> Vec<u64> {
        let e = Expr::parse(expr).unwrap();
        ns.iter().map(|&n| e.eval(n)).collect()
    }

    #[test]
    fn english_and_french() {
        assert_eq!(forms("(n != 1)", &[0, 1, 2]), [1, 0, 1]);
        assert_eq!(forms("(n > 1)", &[0, 1, 2]), [0, 0, 1]);
    }

    #[test]
    fn romanian_three_forms() {
        let ro = "(n==1 ? 0 : (n==0 || (n%100 > 0 && n%100 < 20)) ? 1 : 2);";
        assert_eq!(
            forms(ro, &[1, 0, 2, 19, 20, 101, 119, 120]),
            [0, 1, 1, 1, 2, 1, 1, 2]
        );
    }

    #[test]
    fn polish_and_russian_nested_conditionals() {
        let pl = "(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2)";
        assert_eq!(forms(pl, &[1, 2, 4, 5, 12, 22, 25]), [0, 1, 1, 2, 2, 1, 2]);
        let ru =
            "(n%10==1 && n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2)";
        assert_eq!(forms(ru, &[1, 11, 21, 3, 13, 5]), [0, 2, 0, 1, 2, 2]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            "n ==",
            "n ? 1",
            "(n",
            "n $ 2",
            "",
            "99999999999999999999999",
        ] {
            assert!(Expr::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(forms("!n + 1 - 1 * 2 / 0", &[0, 3]), [2, 1]);
    }
}
