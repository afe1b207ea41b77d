# checkbridge intake profile "assumed": the invitation schema checkbridge assumed before
# intake mappings existed (camelCase keys, PascalCase accepted), read as leniently as the
# built-in reader does: ids, phones and postcodes may be numbers, text that is not text is
# dropped. Output: the canonical invitation, docs/schema/invitation.schema.json.
#
# To fit another payload, copy this file, edit it, and name the copy in the tenant's
# `[tenants.T.intake] mapping = "FILE.jq"`. Keys named by a GUID have already been removed.

# FirstName -> firstName (the assumed schema accepts both spellings).
def camel: with_entries(.key |= ((.[0:1] | ascii_downcase) + .[1:]));
# A text field: strings as they are, numbers and booleans as text, anything else missing.
def text: if type == "string" then . elif type == "number" or type == "boolean" then tostring else null end;
# A nested object read by `f`, or missing when the payload has something else there.
def obj(f): if type == "object" then camel | f else null end;
# A list of objects each read by `f`.
def list(f): if type == "array" then map(obj(f)) else null end;

def address: {
  addressType: (.addressType | text), line1: (.line1 | text), line2: (.line2 | text),
  city: (.city | text), state: (.state | text), postcode: (.postcode | text),
  country: (.country | text), fromDate: (.fromDate | text), toDate: (.toDate | text)
};
def alias: {
  firstName: (.firstName | text), middleName: (.middleName | text),
  lastName: (.lastName | text), suffix: (.suffix | text)
};
def candidate: {
  applicantId: (.applicantId | text),
  firstName: (.firstName | text), middleName: (.middleName | text), lastName: (.lastName | text),
  email: (.email | text), phone: (.phone | text), dateOfBirth: (.dateOfBirth | text),
  nationalId: (.nationalId | text),
  addresses: (.addresses | list(address)), aliases: (.aliases | list(alias))
};
def job: {
  jobId: (.jobId | text), title: (.title | text), department: (.department | text),
  worksite: (.worksite | obj({city: (.city | text), state: (.state | text), country: (.country | text)})),
  salary: (.salary | if type == "number" or type == "string" then . else null end)
};
def person: {firstName: (.firstName | text), lastName: (.lastName | text), email: (.email | text)};
def employment: {
  employerName: (.employerName | text), position: (.position | text), location: (.location | text),
  email: (.email | text), phone: (.phone | text),
  startDate: (.startDate | text), endDate: (.endDate | text)
};
def education: {
  institutionName: (.institutionName | text), qualification: (.qualification | text),
  fieldOfStudy: (.fieldOfStudy | text), graduationDate: (.graduationDate | text),
  email: (.email | text), phone: (.phone | text)
};
def document: {
  documentId: (.documentId | text), documentType: (.documentType | text),
  fileName: (.fileName | text), contentType: (.contentType | text), url: (.url | text),
  content: (.content | text)
};

camel | {
  id: (.id | text),
  status: (.status | text),
  provider: (.provider | text),
  packageCode: (.packageCode | text),
  checkTypes: (.checkTypes | if type == "array" then map(text) elif type == "string" then . else null end),
  note: (.note | text),
  createdDate: (.createdDate | text),
  candidate: (.candidate | obj(candidate)),
  job: (.job | obj(job)),
  requester: (.requester | obj(person)),
  employmentHistory: (.employmentHistory | list(employment)),
  educationHistory: (.educationHistory | list(education)),
  documents: (.documents | list(document))
}
