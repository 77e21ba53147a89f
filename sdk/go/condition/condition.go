// Package condition owns the expression language of code monitoring: the
// conditions that decide whether a breakpoint captures a snapshot
// (`user.id == "abc123"`, `err != nil`) and the `{expression}` placeholders of
// logpoint templates. It compiles and evaluates them on captured variables,
// in a sandbox: no calls into the application, no methods, no loops, a
// bounded number of nodes and a bounded memory budget per evaluation.
//
// The language is github.com/expr-lang/expr with the spellings of the other
// SDK languages accepted as well (`===`, `!==`, `null`, `None`, `is not None`,
// `True`, `False`), and every member access nil-safe: a missing variable or
// field reads as nil, so `user.id == "abc"` is false when there is no user.
//
// It tells which variables an expression reads (Reads), so that a caller
// captures those alone, and renders a template for a message that leaves
// the process (RenderRedacted) without showing what scrubbing hides.
//
// It does not capture variables (package capture does) nor scrub them
// (package pii does); it evaluates whatever tree of maps, slices and scalars
// it is given.
package condition

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

const (
	// MaxSourceLen is the longest condition or placeholder source, in bytes.
	MaxSourceLen = 1000
	// MaxNodes is the largest syntax tree a condition or placeholder may
	// compile to, counted after nil-safe member access is added.
	MaxNodes = 500
	// MaxConcatenations bounds the '+' operators of an expression: each may
	// copy whole strings of the variables, and a long chain of them copies
	// quadratically.
	MaxConcatenations = 32
	// MemoryBudget bounds what one evaluation may allocate, in expr's units
	// (about one per element of a range, array or map it builds), so that
	// `len(1..1000000000) > 0` fails fast instead of filling memory.
	MemoryBudget = 10_000
)

// allowedBuiltins are the functions a condition may call: cheap, and linear
// in the size of their arguments. Everything that loops over a collection
// with a closure (all, filter, map, reduce...), builds strings from counts
// (repeat, replace, join), parses (fromJSON, date) or reads the clock (now)
// is left out, so that the cost of an evaluation stays bounded by the size
// of the expression and of the variables. string() is left out too: it
// formats with %v, which would call String methods of application types.
var allowedBuiltins = []string{
	"len", "lower", "upper", "trim", "trimPrefix", "trimSuffix",
	"hasPrefix", "hasSuffix", "indexOf", "lastIndexOf",
	"abs", "ceil", "floor", "round", "int", "float", "type",
	"first", "last", "get", "keys", "max", "min",
}

var allowedBuiltinSet = func() map[string]bool {
	m := make(map[string]bool, len(allowedBuiltins))
	for _, name := range allowedBuiltins {
		m[name] = true
	}
	return m
}()

// Error is a condition or template that does not compile, or an evaluation
// that failed. Pos, Line and Column point into the source the user wrote.
type Error struct {
	Pos    int    // byte offset in the source, from 0
	Line   int    // line in the source, from 1
	Column int    // column in the source, in characters, from 1
	Msg    string // what is wrong, and what was expected
}

// Error formats the error as "line:column: message".
func (e *Error) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg)
}

func newError(src string, pos int, msg string) *Error {
	if pos < 0 {
		pos = 0
	}
	if pos > len(src) {
		pos = len(src)
	}
	line, col := 1, 1
	for _, r := range src[:pos] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return &Error{Pos: pos, Line: line, Column: col, Msg: msg}
}

// Condition is a compiled breakpoint condition. It is safe for concurrent
// use.
type Condition struct {
	src   string
	prog  *vm.Program
	norm  normalized
	reads Reads
}

// Reads is what an expression reads of its variables.
type Reads struct {
	// Names are the top-level variables it names, sorted: "user" for
	// user.email == "a@b.c".
	Names []string
	// All is true when it reads the whole set of variables ($env), not
	// only Names.
	All bool
}

// Union returns the variables either r or o reads.
func (r Reads) Union(o Reads) Reads {
	names := append(slices.Clone(r.Names), o.Names...)
	slices.Sort(names)
	return Reads{Names: slices.Compact(names), All: r.All || o.All}
}

// Compile compiles a breakpoint condition. It is meant to run when a
// breakpoint is created, so that the user sees at once where a condition is
// wrong; the error is an *Error.
func Compile(src string) (*Condition, error) {
	if strings.TrimSpace(src) == "" {
		return nil, newError(src, 0, "condition is empty; write an expression such as user.id == \"abc123\"")
	}
	prog, norm, reads, err := compile(src, expr.AsBool())
	if err != nil {
		return nil, err
	}
	return &Condition{src: src, prog: prog, norm: norm, reads: reads}, nil
}

// String returns the source the condition was compiled from.
func (c *Condition) String() string { return c.src }

// Reads returns the variables the condition reads: a caller that captures
// variables for Eval needs those alone.
func (c *Condition) Reads() Reads { return c.reads }

// Eval evaluates the condition on captured variables: nested maps, slices and
// scalars. A variable or field that is missing reads as nil, and a nil
// condition is false. It returns false with an *Error when evaluation fails:
// `total > 5` when total is a string, or a condition that is not a boolean.
func (c *Condition) Eval(vars map[string]any) (bool, error) {
	out, err := run(c.prog, c.src, &c.norm, vars)
	if err != nil {
		if e := err.(*Error); strings.HasPrefix(e.Msg, "invalid operation: bool(") {
			typ := strings.TrimSuffix(strings.TrimPrefix(e.Msg, "invalid operation: bool("), ")")
			e.Msg = "the condition is a " + typ + ", not true or false; compare it, as in user.id == \"abc123\""
		}
		return false, err
	}
	b, _ := out.(bool) // AsBool makes the result a bool
	return b, nil
}

// vms are reused across evaluations: a VM keeps its stack between runs.
var vms = sync.Pool{New: func() any { return new(vm.VM) }}

var emptyVars = map[string]any{}

// run evaluates a compiled program with the memory budget, mapping runtime
// errors back to the source.
func run(prog *vm.Program, src string, norm *normalized, vars map[string]any) (any, error) {
	if vars == nil {
		vars = emptyVars
	}
	m := vms.Get().(*vm.VM)
	m.MemoryBudget = MemoryBudget
	out, err := m.Run(prog, vars)
	vms.Put(m)
	if err != nil {
		return nil, toError(err, src, norm)
	}
	return out, nil
}

// compile normalises src and compiles it with expr inside the sandbox. It
// returns what the program reads of its variables too.
func compile(src string, kind expr.Option) (*vm.Program, normalized, Reads, error) {
	if len(src) > MaxSourceLen {
		return nil, normalized{}, Reads{}, newError(src, MaxSourceLen,
			fmt.Sprintf("expression is %d bytes long; the limit is %d", len(src), MaxSourceLen))
	}
	norm := normalize(src)
	g := &guard{}
	opts := make([]expr.Option, 0, len(allowedBuiltins)+6)
	opts = append(opts,
		expr.AllowUndefinedVariables(),
		expr.MaxNodes(MaxNodes),
		expr.DisableAllBuiltins(),
	)
	for _, name := range allowedBuiltins {
		opts = append(opts, expr.EnableBuiltin(name))
	}
	opts = append(opts, expr.Patch(g), kind)

	prog, err := compileNoPanic(norm.out, opts)
	if g.err != nil {
		// The sandbox's reason is more useful than a type error that follows
		// from it (an unknown function has no type).
		return nil, norm, Reads{}, newError(src, norm.srcOffset(g.pos), g.err.Error())
	}
	if err != nil {
		return nil, norm, Reads{}, toError(err, src, &norm)
	}
	reads := g.reads
	slices.Sort(reads.Names)
	reads.Names = slices.Compact(reads.Names)
	return prog, norm, reads, nil
}

// compileNoPanic compiles with expr and turns a panic inside it into an error:
// input must never crash the caller.
func compileNoPanic(src string, opts []expr.Option) (prog *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("compile: %v", r)
		}
	}()
	return expr.Compile(src, opts...)
}

// toError maps an expr error to an *Error that points into the user's source.
func toError(err error, src string, norm *normalized) *Error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		switch msg {
		case "unexpected token EOF":
			msg = "unexpected end of expression; an operand or closing bracket is missing"
		case "compilation failed: expression exceeds maximum allowed nodes":
			msg = fmt.Sprintf("expression is too large (more than %d nodes); simplify it", MaxNodes)
		}
		return newError(src, norm.srcOffset(fe.From), msg)
	}
	return newError(src, 0, err.Error())
}

// guard is an expr patch visitor that rejects everything outside the
// sandbox: calls of anything but allowed builtins, method calls, closures
// (predicates), variables and sequences. It records the first offence by
// position, and the variables the expression reads; it changes nothing.
type guard struct {
	err   error
	pos   int
	plus  int
	reads Reads
}

func (g *guard) reject(node ast.Node, format string, args ...any) {
	from := node.Location().From
	if g.err == nil || from < g.pos {
		g.err = fmt.Errorf(format, args...)
		g.pos = from
	}
}

// Visit implements ast.Visitor.
func (g *guard) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		// Closures and let are rejected: every identifier is a variable.
		if n.Value == "$env" {
			g.reads.All = true
		} else {
			g.reads.Names = append(g.reads.Names, n.Value)
		}
	case *ast.CallNode:
		name := "a value"
		switch callee := n.Callee.(type) {
		case *ast.IdentifierNode:
			if _, known := builtin.Index[callee.Value]; known {
				g.reject(n, "function %s is not available; available functions: %s", callee.Value, strings.Join(allowedBuiltins, ", "))
				return
			}
			name = callee.Value
		case *ast.MemberNode:
			if s, ok := callee.Property.(*ast.StringNode); ok {
				name = "method " + s.Value
			}
		}
		g.reject(n, "calling %s is not allowed; available functions: %s", name, strings.Join(allowedBuiltins, ", "))
	case *ast.BuiltinNode:
		if !allowedBuiltinSet[n.Name] {
			g.reject(n, "function %s is not available; available functions: %s", n.Name, strings.Join(allowedBuiltins, ", "))
		}
	case *ast.MemberNode:
		if n.Method {
			g.reject(n, "methods cannot be called; read fields instead")
		}
	case *ast.PredicateNode, *ast.PointerNode:
		g.reject(*node, "closures are not allowed")
	case *ast.VariableDeclaratorNode:
		g.reject(n, "let is not allowed; write the expression inline")
	case *ast.SequenceNode:
		g.reject(n, "';' is not allowed; write one expression")
	case *ast.BinaryNode:
		if n.Operator == "+" {
			if g.plus++; g.plus > MaxConcatenations {
				g.reject(n, "more than %d '+' operators", MaxConcatenations)
			}
		}
	}
}
