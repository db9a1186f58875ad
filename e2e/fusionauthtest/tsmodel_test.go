package fusionauthtest_test

// FusionAuth's published domain model, read from the TypeScript declarations of
// @fusionauth/typescript-client (build/src/FusionAuthClient.d.ts), which
// FusionAuth generates from its server's domain objects, and a check of JSON
// documents against it: unknown fields, enum values FusionAuth lacks and wrong
// types. FusionAuth ignores fields it does not know, so only such a check finds
// a misspelled field.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// tsType is a type expression: a name ("string", "Array", "Application", a
// type parameter) with its type arguments.
type tsType struct {
	name string
	args []tsType
}

func (t tsType) String() string {
	if len(t.args) == 0 {
		return t.name
	}
	args := make([]string, len(t.args))
	for i, a := range t.args {
		args[i] = a.String()
	}
	return t.name + "<" + strings.Join(args, ", ") + ">"
}

type tsInterface struct {
	name       string
	typeParams []string
	extends    []tsType
	fields     map[string]tsType
	// open: an index signature ([other: string]: any) or extends Record,
	// so any field is allowed.
	open bool
}

// tsModel is every interface, enum and type alias of the declarations.
type tsModel struct {
	interfaces map[string]*tsInterface
	enums      map[string][]string
	aliases    map[string]tsType
}

var (
	interfaceLine = regexp.MustCompile(`^export interface (\w+)(.*?)\s*\{(\})?$`)
	enumLine      = regexp.MustCompile(`^export declare enum (\w+) \{$`)
	enumValueLine = regexp.MustCompile(`^\s+\w+ = "([^"]*)",?$`)
	aliasLine     = regexp.MustCompile(`^export declare type (\w+) = (.+);$`)
	fieldLine     = regexp.MustCompile(`^\s+(\w+)\??: (.+);$`)
	indexLine     = regexp.MustCompile(`^\s+\[\w+: string\]: any;$`)
	blockComment  = regexp.MustCompile(`(?s)/\*.*?\*/`)
)

// parseTSModel reads FusionAuthClient.d.ts. It fails on any line it does not
// understand, so that a change in the generator's output cannot make the
// check accept what it never read.
func parseTSModel(source string) (*tsModel, error) {
	m := &tsModel{interfaces: map[string]*tsInterface{}, enums: map[string][]string{}, aliases: map[string]tsType{}}
	lines := strings.Split(blockComment.ReplaceAllString(source, ""), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t\r")
		where := func(err error) error { return fmt.Errorf("FusionAuthClient.d.ts line %d %q: %w", i+1, line, err) }
		switch {
		case strings.TrimSpace(line) == "", strings.HasPrefix(strings.TrimSpace(line), "//"),
			strings.HasPrefix(line, "import "), strings.HasPrefix(line, "export default "):
		case strings.HasPrefix(line, "export declare class "):
			// The client's methods: how it calls the API, not the model.
			for i < len(lines) && strings.TrimRight(lines[i], " \t\r") != "}" {
				i++
			}
		case enumLine.MatchString(line):
			name := enumLine.FindStringSubmatch(line)[1]
			var values []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "}"; i++ {
				v := enumValueLine.FindStringSubmatch(lines[i])
				if v == nil {
					return nil, where(fmt.Errorf("enum %s: unreadable value %q", name, lines[i]))
				}
				values = append(values, v[1])
			}
			m.enums[name] = values
		case aliasLine.MatchString(line):
			a := aliasLine.FindStringSubmatch(line)
			t, err := parseTSType(a[2])
			if err != nil {
				return nil, where(err)
			}
			m.aliases[a[1]] = t
		case interfaceLine.MatchString(line):
			h := interfaceLine.FindStringSubmatch(line)
			iface, err := parseInterfaceHead(h[1], h[2])
			if err != nil {
				return nil, where(err)
			}
			if h[3] == "" {
				for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "}"; i++ {
					body := strings.TrimRight(lines[i], " \t\r")
					if err := iface.addMember(body); err != nil {
						return nil, fmt.Errorf("FusionAuthClient.d.ts line %d %q: interface %s: %w", i+1, body, iface.name, err)
					}
				}
			}
			m.interfaces[iface.name] = iface
		default:
			return nil, where(fmt.Errorf("not a declaration the model check reads"))
		}
	}
	if len(m.interfaces) == 0 || len(m.enums) == 0 {
		return nil, fmt.Errorf("FusionAuthClient.d.ts: no interfaces or no enums found")
	}
	return m, nil
}

// parseInterfaceHead reads what follows "export interface Name": type
// parameters and the extends clause.
func parseInterfaceHead(name, rest string) (*tsInterface, error) {
	iface := &tsInterface{name: name, fields: map[string]tsType{}}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "<") {
		end := matchingAngle(rest)
		if end < 0 {
			return nil, fmt.Errorf("unbalanced type parameters")
		}
		for _, p := range splitTopLevel(rest[1:end]) {
			iface.typeParams = append(iface.typeParams, strings.Fields(p)[0])
		}
		rest = strings.TrimSpace(rest[end+1:])
	}
	if rest == "" {
		return iface, nil
	}
	list, ok := strings.CutPrefix(rest, "extends ")
	if !ok {
		return nil, fmt.Errorf("unexpected %q after the interface name", rest)
	}
	for _, part := range splitTopLevel(list) {
		t, err := parseTSType(part)
		if err != nil {
			return nil, err
		}
		if t.name == "Record" {
			iface.open = true
			continue
		}
		iface.extends = append(iface.extends, t)
	}
	return iface, nil
}

func (iface *tsInterface) addMember(line string) error {
	if indexLine.MatchString(line) {
		iface.open = true
		return nil
	}
	f := fieldLine.FindStringSubmatch(line)
	if f == nil {
		return fmt.Errorf("not a field the model check reads")
	}
	t, err := parseTSType(f[2])
	if err != nil {
		return err
	}
	iface.fields[f[1]] = t
	return nil
}

// parseTSType reads Name or Name<Arg, …>; unions, arrays written T[] and
// literal types do not occur in the model's fields, and are refused.
func parseTSType(s string) (tsType, error) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '<')
	if open < 0 {
		if !regexp.MustCompile(`^\w+$`).MatchString(s) {
			return tsType{}, fmt.Errorf("type %q is not one the model check reads", s)
		}
		return tsType{name: s}, nil
	}
	if matchingAngle(s[open:]) != len(s)-open-1 {
		return tsType{}, fmt.Errorf("type %q is not one the model check reads", s)
	}
	t := tsType{name: s[:open]}
	for _, part := range splitTopLevel(s[open+1 : len(s)-1]) {
		arg, err := parseTSType(part)
		if err != nil {
			return tsType{}, err
		}
		t.args = append(t.args, arg)
	}
	return t, nil
}

// matchingAngle is the index of the '>' closing the '<' at s[0], or -1.
func matchingAngle(s string) int {
	depth := 0
	for i, c := range s {
		switch c {
		case '<':
			depth++
		case '>':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// splitTopLevel splits at the commas outside angle brackets.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(parts, strings.TrimSpace(s[start:]))
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// check lists what in the JSON document data does not fit the model's type
// typeName, one problem per line, each with the JSON path where it is.
func (m *tsModel) check(data []byte, typeName string) []string {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"$: not JSON: " + err.Error()}
	}
	var problems []string
	m.checkValue(v, tsType{name: typeName}, "$", nil, &problems)
	return problems
}

// checkValue checks v against t; params are the type parameters in scope.
func (m *tsModel) checkValue(v any, t tsType, path string, params map[string]bool, problems *[]string) {
	fail := func(format string, args ...any) {
		*problems = append(*problems, path+": "+fmt.Sprintf(format, args...))
	}
	if v == nil {
		return // FusionAuth reads null as absent
	}
	switch t.name {
	case "any", "object", "unknown":
		return
	case "string":
		if _, ok := v.(string); !ok {
			fail("want a string, got %s", jsonKind(v))
		}
		return
	case "number":
		if _, ok := v.(json.Number); !ok {
			fail("want a number, got %s", jsonKind(v))
		}
		return
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("want a boolean, got %s", jsonKind(v))
		}
		return
	case "Array":
		list, ok := v.([]any)
		if !ok || len(t.args) != 1 {
			fail("want an array (%s), got %s", t, jsonKind(v))
			return
		}
		for i, item := range list {
			m.checkValue(item, t.args[0], fmt.Sprintf("%s[%d]", path, i), params, problems)
		}
		return
	case "Record":
		obj, ok := v.(map[string]any)
		if !ok || len(t.args) != 2 {
			fail("want an object (%s), got %s", t, jsonKind(v))
			return
		}
		for _, key := range sortedKeys(obj) {
			m.checkValue(key, t.args[0], path+" key "+key, params, problems)
			m.checkValue(obj[key], t.args[1], path+"."+key, params, problems)
		}
		return
	}
	if params[t.name] {
		return // a type parameter: the model does not say
	}
	if alias, ok := m.aliases[t.name]; ok {
		m.checkValue(v, alias, path, params, problems)
		if s, isString := v.(string); isString && t.name == "UUID" && !uuidPattern.MatchString(s) {
			fail("want a UUID, got %q", s)
		}
		return
	}
	if values, ok := m.enums[t.name]; ok {
		s, isString := v.(string)
		if !isString {
			fail("want a %s (a string), got %s", t.name, jsonKind(v))
		} else if !slices.Contains(values, s) {
			fail("%q is not a value of %s; FusionAuth's are %s", s, t.name, strings.Join(values, ", "))
		}
		return
	}
	iface, ok := m.interfaces[t.name]
	if !ok {
		fail("type %s is not in the model", t.name)
		return
	}
	obj, isObject := v.(map[string]any)
	if !isObject {
		fail("want an object (%s), got %s", t.name, jsonKind(v))
		return
	}
	fields, open, scope := m.fieldsOf(iface, params)
	for _, name := range sortedKeys(obj) {
		ft, known := fields[name]
		switch {
		case known:
			m.checkValue(obj[name], ft, path+"."+name, scope, problems)
		case !open:
			fail("unknown field %q of %s%s", name, t.name, m.elsewhere(name))
		}
	}
}

// fieldsOf collects iface's fields with those it extends, and the type
// parameters in scope for them.
func (m *tsModel) fieldsOf(iface *tsInterface, params map[string]bool) (fields map[string]tsType, open bool, scope map[string]bool) {
	fields, open, scope = map[string]tsType{}, iface.open, map[string]bool{}
	for p := range params {
		scope[p] = true
	}
	for _, p := range iface.typeParams {
		scope[p] = true
	}
	for _, parent := range iface.extends {
		if p, ok := m.interfaces[parent.name]; ok {
			parentFields, parentOpen, parentScope := m.fieldsOf(p, scope)
			for name, t := range parentFields {
				fields[name] = t
			}
			for name := range parentScope {
				scope[name] = true
			}
			open = open || parentOpen
		}
	}
	for name, t := range iface.fields {
		fields[name] = t
	}
	return fields, open, scope
}

// elsewhere names a few interfaces that do have the field, to point at where
// it was probably meant to go.
func (m *tsModel) elsewhere(field string) string {
	var owners []string
	for name, iface := range m.interfaces {
		if _, ok := iface.fields[field]; ok {
			owners = append(owners, name)
		}
	}
	if len(owners) == 0 {
		return ""
	}
	sort.Strings(owners)
	if len(owners) > 3 {
		owners = append(owners[:3], "…")
	}
	return " (it is a field of " + strings.Join(owners, ", ") + ")"
}

func sortedKeys(obj map[string]any) []string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
