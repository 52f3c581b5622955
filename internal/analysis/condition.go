package analysis

import (
	"fmt"
	"math"
	"reflect"
	"strconv"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/rotor-project/rotor/internal/gate"
)

// condition is a compiled success or failure condition. The environment is Argo
// Rollouts': result (a number, a list of numbers for a Prometheus vector, or any JSON
// value from the web provider), and the functions asInt, asFloat, isNaN, isInf, isNil
// and default.
type condition struct {
	source  string
	program *vm.Program
}

// env is the expression environment. result is typed any, so conditions compile
// before a value is known and operate on whatever the provider returns.
type env struct {
	Result  any                        `expr:"result"`
	AsInt   func(any) (int64, error)   `expr:"asInt"`
	AsFloat func(any) (float64, error) `expr:"asFloat"`
	IsNaN   func(float64) bool         `expr:"isNaN"`
	IsInf   func(float64) bool         `expr:"isInf"`
	IsNil   func() bool                `expr:"isNil"`
	Default func(any) any              `expr:"default"`
}

func conditionEnv(result any) env {
	return env{
		Result:  result,
		AsInt:   asInt,
		AsFloat: asFloat,
		IsNaN:   math.IsNaN,
		IsInf:   func(f float64) bool { return math.IsInf(f, 0) },
		IsNil:   func() bool { return isNil(result) },
		Default: func(def any) any {
			if isNil(result) {
				return def
			}
			return result
		},
	}
}

func compileCondition(field, src string) (*condition, error) {
	if src == "" {
		return nil, nil
	}
	p, err := expr.Compile(src, expr.Env(conditionEnv(nil)))
	if err != nil {
		return nil, fmt.Errorf("%s %q does not compile: %w", field, src, err)
	}
	return &condition{source: src, program: p}, nil
}

func (c *condition) eval(result any) (bool, error) {
	out, err := expr.Run(c.program, conditionEnv(result))
	if err != nil {
		return false, fmt.Errorf("evaluating %q: %w", c.source, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%q gave %v (%T), not true or false", c.source, out, out)
	}
	return b, nil
}

// assess turns a value into a measurement phase exactly as Argo Rollouts' evaluate
// package does: with only a success condition, not-success is failure; with only a
// failure condition, not-failure is success; with both, neither is inconclusive; with
// none, any value succeeds. An evaluation error is an Error measurement.
func assess(success, failure *condition, result any) (gate.Phase, string, error) {
	var ok, bad bool
	var err error
	if success != nil {
		if ok, err = success.eval(result); err != nil {
			return gate.Error, "", err
		}
	}
	if failure != nil {
		if bad, err = failure.eval(result); err != nil {
			return gate.Error, "", err
		}
	}
	switch {
	case success == nil && failure == nil:
		return gate.Successful, "no condition", nil
	case failure == nil:
		bad = !ok
	case success == nil:
		ok = !bad
	}
	detail := describe(success, ok, failure, bad)
	switch {
	case bad:
		return gate.Failed, detail, nil
	case !ok:
		return gate.Inconclusive, detail, nil
	default:
		return gate.Successful, detail, nil
	}
}

func describe(success *condition, ok bool, failure *condition, bad bool) string {
	var s string
	if success != nil {
		s = fmt.Sprintf("successCondition %s is %v", success.source, ok)
	}
	if failure != nil {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("failureCondition %s is %v", failure.source, bad)
	}
	return s
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func asInt(in any) (int64, error) {
	switch v := in.(type) {
	case string:
		return strconv.ParseInt(v, 10, 64)
	case float64:
		return int64(v), nil
	case int:
		return int64(v), nil
	}
	return 0, fmt.Errorf("asInt: cannot convert %T", in)
}

func asFloat(in any) (float64, error) {
	switch v := in.(type) {
	case string:
		return strconv.ParseFloat(v, 64)
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	}
	return 0, fmt.Errorf("asFloat: cannot convert %T", in)
}
