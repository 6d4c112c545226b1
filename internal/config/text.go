package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// checkText refuses a string of v that is not valid UTF-8 (YAML is text,
// but a !!binary value decodes to any bytes), naming its key.
func checkText(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Errorf("%s: not valid UTF-8", path)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
			if err := checkText(v.Field(i), child(path, name)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if err := checkText(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if err := checkText(k, path); err != nil {
				return fmt.Errorf("%s: a key is not valid UTF-8", path)
			}
			if err := checkText(v.MapIndex(k), child(path, k.String())); err != nil {
				return err
			}
		}
	}
	return nil
}

func child(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
