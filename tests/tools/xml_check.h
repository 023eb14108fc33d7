// Copyright 2026 The ionsim Authors. SPDX-License-Identifier: Apache-2.0
//
// A strict well-formedness check for the XML the tools write (no DTDs, no CDATA): one root element, every tag
// closed in order, attributes quoted and unique, '<' only as markup, '&' only in the five predefined entities
// or a character reference, no control characters.
#ifndef TESTS_TOOLS_XML_CHECK_H_
#define TESTS_TOOLS_XML_CHECK_H_

#include <string>

namespace ionsim::testing {

// "" when the document is well-formed, otherwise the first problem and its byte offset.
std::string XmlProblem(const std::string& doc);

}  // namespace ionsim::testing

#endif  // TESTS_TOOLS_XML_CHECK_H_
