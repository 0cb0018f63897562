# /etc/sdu/ldif-mail.sed: the mail: values of ldapsearch -LLL output, one a line, for rcptcheck-build (sed -n -f)
s/^mail: //p
